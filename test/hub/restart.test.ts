// A hub restarted in the middle of a stream: the device reconnects, learns the hub's head from its
// GRANT, re-sends what no receipt covered, and the result has nothing lost and nothing doubled.
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSegment } from '../../protocol/index.js';
import type { HubHandle } from '../../hub/server.js';
import { TestDevice } from './helpers/device.js';
import { tempDir, testHub } from './helpers/hub.js';

describe('hub restart mid-stream', () => {
  const tmp = tempDir();
  let hub: HubHandle | undefined;
  let device: TestDevice | undefined;
  afterEach(async () => {
    await device?.disconnect();
    await hub?.close();
    tmp.cleanup();
  });

  it('loses nothing and counts nothing twice', async () => {
    hub = await testHub(tmp.dir);
    device = await new TestDevice(hub).enrol({ price: 7n });
    await device.connect();
    const segments = Array.from({ length: 40 }, () => device!.build(16));
    const total = 40n * 16n;

    // Fire the whole stream without waiting, and stop the hub as soon as part of it is committed.
    for (const s of segments)
      device.client!.publish(`tally/v1/d/${device.hex}/up/seg`, Buffer.from(encodeSegment(s.segment)), { qos: 1 });
    await device.receiptAtLeast(160n);
    await hub.close();
    await device.disconnect();
    const committedBefore = (await import('../../hub/store/datadir.js')).openStore(tmp.dir);
    const midHead = (await committedBefore.listChannels())[0]!.head.seq;
    await committedBefore.close();
    expect(midHead).toBeGreaterThanOrEqual(160n);

    hub = await testHub(tmp.dir);
    const restarted = new TestDevice(hub, device.key);
    restarted.built.push(...device.built);
    const grant = await restarted.connect();
    expect(grant.head.seq).toBe(midHead);
    // Re-send every segment the hub's head does not cover, in order [P-5.3]; include the one
    // segment just before, as a device that lost its last receipt would (an exact duplicate).
    const resend = segments.filter((s) => s.head.seq > grant.head.seq - 16n);
    for (const s of resend) await restarted.publish(s);
    const last = await restarted.receiptAtLeast(total);
    device = restarted;

    expect(last.seq).toBe(total);
    expect(last.cumUnits).toBe(total);
    expect(last.cumAmount).toBe(total * 7n);
    const store = hub.core.ledger;
    const ch = (await store.listChannels())[0]!;
    expect(ch.head.cumAmount).toBe(total * 7n);
    // Every seq stored once: the accepted segments tile 1..total without overlap.
    let next = 1n;
    for (let seq = 16n; seq <= total; seq += 16n) {
      const row = (await store.segmentEndingAt(ch.channelId, seq))!;
      expect(row.newFromSeq).toBe(next);
      next = seq + 1n;
    }
    expect(await store.countSegments(ch.channelId)).toBe(40);
  });

  it('a clean stop commits what it holds and delivers the last receipt before the broker closes', async () => {
    // No commit before the stop (a long commit delay) and signatures checked on arrival, so the
    // stop itself must commit the segment and get its receipt out.
    hub = await testHub(tmp.dir, { commitDelayMs: 60_000, verifyWorkers: 0 });
    device = await new TestDevice(hub).enrol();
    await device.connect();
    await device.publish(device.build(5)); // PUBACK: the hub holds it
    expect((await hub.core.ledger.listChannels())[0]!.head.seq).toBe(0n);
    const receipt = device.receiptAtLeast(5n);
    await hub.close();
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no receipt after the stop')), 2_000),
    );
    expect((await Promise.race([receipt, timeout])).seq).toBe(5n);
  });
});
