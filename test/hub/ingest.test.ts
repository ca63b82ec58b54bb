// The ingest pipeline end to end: a device made of protocol/ functions, a real MQTT.js client, the
// embedded aedes broker and SQLite files in a temp dir.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildSegment,
  bytesEqual,
  decodeControl,
  encodeSegment,
  generateKeyPair,
  SIZE_CAPS,
} from '../../protocol/index.js';
import type { HubHandle } from '../../hub/server.js';
import { waitFor } from '../../support/test-hub.js';
import { readyDevice } from './helpers/device.js';
import { tempDir, testHub } from './helpers/hub.js';

// Once with signatures checked on the main thread, once on worker threads (the default).
describe.each([0, 2])('ingest (verifyWorkers %i)', (verifyWorkers) => {
  let tmp: ReturnType<typeof tempDir>;
  let hub: HubHandle;
  const devices: { disconnect(): Promise<void> }[] = [];

  beforeEach(async () => {
    tmp = tempDir();
    hub = await testHub(tmp.dir, { verifyWorkers });
  });
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.disconnect();
    await hub.close();
    tmp.cleanup();
  });

  const isSigInvalidReject = (bytes: Uint8Array) => {
    const c = decodeControl(bytes, hub.hubKey.publicKey);
    return c.ok && c.value.kind === 'reject' && c.value.reason === 'SIG_INVALID';
  };
  const counts = async () =>
    Object.fromEntries((await hub.core.ledger.rejectionCounts()).map((c) => [c.reason, c.events]));

  it('accepts a chained stream and answers each commit with a signed receipt of the committed head', async () => {
    const d = await readyDevice(hub, { price: 5n });
    devices.push(d);
    for (let i = 0; i < 10; i++) await d.publish(d.build(64));
    const r = await d.receiptAtLeast(640n);
    expect(r.seq).toBe(640n);
    expect(r.cumUnits).toBe(640n);
    expect(r.cumAmount).toBe(3200n);
    expect(bytesEqual(r.headHash, d.head!.hash)).toBe(true);
    const row = (await hub.core.ledger.getChannel(d.channelId!))!;
    expect(row.head.seq).toBe(640n);
    expect(row.head.cumAmount).toBe(3200n);
  });

  it('acknowledges an exact duplicate again without counting it', async () => {
    const d = await readyDevice(hub);
    devices.push(d);
    const s1 = d.build(8);
    await d.publish(s1);
    await d.receiptAtLeast(8n);
    await d.publish(s1);
    const again = await d.receiptAtLeast(8n);
    expect(again.seq).toBe(8n);
    expect((await hub.core.ledger.getChannel(d.channelId!))!.head.cumUnits).toBe(8n);
    expect((await counts()).DUPLICATE).toBe(1n);
  });

  it('waits for a missing segment in the reorder buffer and then takes both in order', async () => {
    const d = await readyDevice(hub);
    devices.push(d);
    const s1 = d.build(4);
    const s2 = d.build(4);
    await d.publish(s2);
    await d.publish(s1);
    const r = await d.receiptAtLeast(8n);
    expect(r.seq).toBe(8n);
    expect(await hub.core.ledger.countSegments(d.channelId!)).toBe(2);
  });

  it('asks for a resync when a gap does not fill, and takes the re-sent stream', async () => {
    await hub.close();
    hub = await testHub(tmp.dir, { reorderWindowMs: 100, verifyWorkers });
    const d = await readyDevice(hub);
    devices.push(d);
    const s1 = d.build(4);
    await d.publish(s1);
    await d.receiptAtLeast(4n);
    const lost = d.build(4);
    const s3 = d.build(4);
    await d.publish(s3);
    const resync = await d.nextControl('resync');
    expect(resync.head.seq).toBe(4n);
    expect(resync.reason).toBe('SEQ_GAP');
    await d.publish(lost);
    await d.publish(s3);
    expect((await d.receiptAtLeast(12n)).seq).toBe(12n);
    expect((await counts()).HUB_REORDER_EXPIRED).toBe(1n);
  });

  it('refuses a segment that does not link and asks for a resync from its head', async () => {
    const d = await readyDevice(hub);
    devices.push(d);
    await d.publish(d.build(2));
    await d.receiptAtLeast(2n);
    // Signed by the device, but chained on a head the hub does not have.
    const bad = buildSegment({
      channelId: d.channelId!,
      prev: { ...d.head!, hash: new Uint8Array(32).fill(7) },
      vouchers: [{ cumUnits: 3n, cumAmount: 3n * d.price, deviceTimeMs: 1n }],
      secretKey: d.key.secretKey,
    }).segment;
    await d.publish(encodeSegment(bad));
    const resync = await d.nextControl('resync');
    expect(resync.reason).toBe('BAD_LINK');
    expect(resync.head.seq).toBe(2n);
    await hub.core.flush(); // control messages go out at once; the rejection row with the next commit
    expect((await counts()).BAD_LINK).toBe(1n);
    expect((await hub.core.ledger.getChannel(d.channelId!))!.head.seq).toBe(2n);
  });

  it('keeps equivocation evidence, flags the channel, and counts only the first voucher', async () => {
    const d = await readyDevice(hub);
    devices.push(d);
    const base = d.head!;
    const first = d.build(4, 1n);
    await d.publish(first);
    await d.receiptAtLeast(4n);
    // A clone restored from a backup: same key, same seqs, different units.
    d.head = base;
    const clone = d.build(4, 2n);
    await d.publish(clone);
    const reject = await d.nextControl('reject');
    expect(reject.reason).toBe('EQUIVOCATION');
    await hub.core.flush();
    const row = (await hub.core.ledger.getChannel(d.channelId!))!;
    expect(row.equivocated).toBe(true);
    expect(row.head.cumUnits).toBe(4n);
    const evidence = await hub.core.ledger.listEquivocations(d.channelId!);
    expect(evidence).toHaveLength(1);
    expect(evidence[0]!.seq).toBe(4n);
  });

  it('refuses a forged signature without changing the balance, and drops what was chained after it', async () => {
    const d = await readyDevice(hub);
    devices.push(d);
    const base = d.head!;
    const forged = d.build(3, 1n, generateKeyPair());
    const after = d.build(3);
    await d.publish(forged);
    await d.publish(after);
    // Counted; the device is not told about a segment it did not sign.
    await waitFor(async () => (await hub.core.flush(), (await counts()).SIG_INVALID === 1n), 'SIG_INVALID counted');
    // The device re-signs and re-sends from the hub's head.
    d.head = base;
    d.built.length = 0;
    const honest = d.build(6);
    await d.publish(honest);
    expect((await d.receiptAtLeast(6n)).cumUnits).toBe(6n);
    await hub.core.flush();
    expect((await counts()).SIG_INVALID).toBe(1n);
    expect(d.inbox!.messages.some((m) => m.topic.endsWith('/down/ctl') && isSigInvalidReject(m.payload))).toBe(false);
    const row = (await hub.core.ledger.getChannel(d.channelId!))!;
    expect(row.head.seq).toBe(6n);
    expect(row.head.cumUnits).toBe(6n);
  });

  it('survives garbage on the uplink: every kind of bad bytes is counted, nothing changes', async () => {
    const d = await readyDevice(hub);
    devices.push(d);
    const good = encodeSegment(d.build(2).segment);
    const junk = [
      new Uint8Array(0),
      new Uint8Array([1]),
      good.subarray(0, 50),
      new Uint8Array(SIZE_CAPS.segment + 1), // larger ones close the connection at the broker (hostile-broker.test.ts)
      Buffer.concat([good, Buffer.from([0])]),
      new Uint8Array(good.length),
    ];
    for (const j of junk) await d.publish(j);
    await d.publish(good);
    expect((await d.receiptAtLeast(2n)).seq).toBe(2n);
    const c = await counts();
    const decodeRejections = Object.entries(c)
      .filter(([k]) => k.startsWith('DECODE_'))
      .reduce((n, [, v]) => n + v, 0n);
    expect(decodeRejections).toBe(BigInt(junk.length));
    expect((await hub.core.ledger.getChannel(d.channelId!))!.head.cumUnits).toBe(2n);
  });
});
