// Capacity, top-up, expiry and revocation over a real broker and real SQLite files.
import { afterEach, describe, expect, it } from 'vitest';
import type { HubHandle } from '../../hub/server.js';
import type { TestDevice } from './helpers/device.js';
import { readyDevice } from './helpers/device.js';
import { tempDir, testHub } from './helpers/hub.js';
import { connectDevice } from './helpers/mqtt.js';

describe('channel terms', () => {
  let tmp: ReturnType<typeof tempDir> | undefined;
  let hub: HubHandle | undefined;
  const devices: TestDevice[] = [];

  afterEach(async () => {
    for (const d of devices.splice(0)) await d.disconnect();
    await hub?.close();
    tmp?.cleanup();
  });

  async function start(extra = {}) {
    tmp = tempDir();
    hub = await testHub(tmp.dir, extra);
    return hub;
  }

  const rejections = async (h: HubHandle) =>
    Object.fromEntries((await h.core.ledger.rejectionCounts()).map((c) => [c.reason, c.vouchers]));

  it('refuses units beyond capacity, tells the device, and takes them after a top-up', async () => {
    const h = await start();
    const d = await readyDevice(h, { price: 2n, capacity: 20n });
    devices.push(d);
    await d.publish(d.build(8)); // 16 of 20
    expect((await d.receiptAtLeast(8n)).cumAmount).toBe(16n);
    const over = d.build(4); // would be 24
    await d.publish(over);
    const reject = await d.nextControl('reject');
    expect(reject.reason).toBe('OVER_CAPACITY');
    expect(reject.seq).toBe(12n);
    const exhausted = await d.nextControl('capacity');
    expect(exhausted.state).toBe('exhausted');
    await h.core.flush();
    expect((await h.core.ledger.getChannel(d.channelId!))!.head.cumAmount).toBe(16n);
    expect((await rejections(h)).OVER_CAPACITY).toBe(4n);

    const view = await h.core.topup(Buffer.from(d.channelId!).toString('hex'), 100n);
    expect(view.capacity).toBe('120');
    const reopened = await d.nextControl('capacity');
    expect(reopened.state).toBe('open');
    expect(reopened.capacity).toBe(120n);
    await d.publish(over);
    expect((await d.receiptAtLeast(12n)).cumAmount).toBe(24n);
    expect((await h.core.ledger.getChannel(d.channelId!))!.capacity).toBe(120n);
  });

  it('marks a channel exhausted when the last unit that fits is accepted', async () => {
    const h = await start();
    const d = await readyDevice(h, { price: 5n, capacity: 20n });
    devices.push(d);
    await d.publish(d.build(4)); // exactly 20
    expect((await d.receiptAtLeast(4n)).cumAmount).toBe(20n);
    expect((await d.nextControl('capacity')).state).toBe('exhausted');
    expect((await h.core.ledger.getChannel(d.channelId!))!.state).toBe('exhausted');
  });

  it('refuses vouchers after the channel expires, by the hub clock', async () => {
    let clock = Date.now();
    const h = await start({ now: () => clock });
    const d = await readyDevice(h, { expiresAtMs: BigInt(clock + 60_000) });
    devices.push(d);
    await d.publish(d.build(2));
    await d.receiptAtLeast(2n);
    clock += 120_000;
    await d.publish(d.build(2));
    expect((await d.nextControl('reject')).reason).toBe('CHANNEL_EXPIRED');
    expect((await h.core.ledger.getChannel(d.channelId!))!.head.seq).toBe(2n);
  });

  it('disconnects a revoked device, refuses it afterwards, and keeps what it had delivered', async () => {
    const h = await start();
    const d = await readyDevice(h);
    devices.push(d);
    await d.publish(d.build(5));
    await d.receiptAtLeast(5n);
    const closed = new Promise<void>((r) => d.client!.once('close', () => r()));
    const view = await h.core.revoke(d.hex);
    expect(view.revoked).toBe(true);
    await closed;
    const again = connectDevice(h.mqttUrl, h.hubKey.publicKey, d.key);
    expect((await again.result).ok).toBe(false);
    again.client.end(true);
    await h.core.flush(); // the refusal is committed with the next group commit; make it now
    const row = (await h.core.ledger.getChannel(d.channelId!))!;
    expect(row.state).toBe('revoked');
    expect(row.head.seq).toBe(5n);
    expect((await h.core.ledger.rejectionCounts()).map((c) => c.reason)).toContain('HUB_DEVICE_REVOKED');
    // Still settles what it delivered before the revocation.
    const epoch = (await h.core.settle())!;
    expect(epoch.totalDeltaAmount).toBe('15');
  });
});
