// The race between optimistic chaining and the worker's signature verdict [P-5.3]: a segment is
// chained in memory before its signature is checked. A conflict against vouchers whose signature
// is not yet known must wait for the verdict: a forgery placed first must not turn the genuine
// segment that follows into equivocation evidence against an innocent device.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex, type Head, type Segment } from '../../protocol/index.js';
import { bareCore, GatedPool, type BareCore } from './helpers/bare-core.js';
import { BareDevice, commitTurn, rejectionCounts } from './helpers/bare-device.js';
import { tempDir } from './helpers/hub.js';

const PRICE = 2n;

/** The genuine segment with its last voucher raised by one unit and its signature kept: a forgery. */
function forge(s: Segment): Segment {
  const vouchers = s.vouchers.map((v) => ({ ...v }));
  const last = vouchers[vouchers.length - 1]!;
  last.cumUnits += 1n;
  last.cumAmount += PRICE;
  return { ...s, vouchers };
}

describe('a conflict with a chain whose signature is still being checked', () => {
  let tmp: ReturnType<typeof tempDir>;
  let pool: GatedPool;
  let hub: BareCore;
  let d: BareDevice;
  let head: Head;

  /** The next 4 vouchers of `unitsEach` units from `prev`, without moving the device's own head. */
  const chainFrom = (prev: Head, unitsEach: bigint) => d.build(4, unitsEach, { prev, advance: false });

  beforeEach(async () => {
    tmp = tempDir();
    pool = new GatedPool();
    hub = await bareCore(tmp.dir, {}, pool);
    d = await BareDevice.enrol(hub, { price: PRICE, capacity: 1_000_000n });
    const first = d.build(4);
    d.send(first.segment);
    await pool.release();
    await commitTurn();
    head = first.head;
    expect((await d.durable()).seq).toBe(4n);
  });
  afterEach(async () => {
    await hub.close();
    tmp.cleanup();
  });

  it('waits for the verdict on a pending forgery and then takes the genuine segment, with no evidence', async () => {
    const genuine = chainFrom(head, 1n);
    d.send(forge(genuine.segment)); // chained optimistically, its check held by the pool
    d.send(genuine.segment); // same seqs, different vouchers, valid signature
    await pool.release(); // the forgery is found invalid and rolled back
    await pool.release(); // the genuine segment, placed after the verdict, is checked
    await commitTurn();

    expect(await hub.core.ledger.listEquivocations(d.channelId)).toHaveLength(0);
    const row = (await hub.core.ledger.getChannel(d.channelId))!;
    expect(row.equivocated).toBe(false);
    expect(row.head.seq).toBe(8n);
    expect(row.head.cumUnits).toBe(genuine.head.cumUnits);
    expect((await rejectionCounts(hub)).EQUIVOCATION).toBeUndefined();
    expect((await rejectionCounts(hub)).SIG_INVALID).toBe(1n);
  });

  it('never announces a head whose signature is still being checked in a RESYNC', async () => {
    const genuine = chainFrom(head, 1n);
    const next = chainFrom(genuine.head, 1n);
    d.send(forge(genuine.segment)); // pending at the live head
    d.send(next.segment); // links to the genuine head, not to the forgery: BAD_LINK
    expect(pool.waiting).toBe(2);
    await pool.releaseOne(1); // next is signed: RESYNC, while the forgery is still being checked
    const resyncs = hub.controls.flatMap((c) => (c.control.kind === 'resync' ? [c.control] : []));
    expect(resyncs.length).toBeGreaterThan(0);
    // The device can act only on a head it signed itself; a forged head would read as a mismatch.
    for (const r of resyncs) expect(toHex(r.head.hash)).toBe(toHex(head.hash));
    await pool.release();
    await commitTurn();
  });

  it('still records equivocation when the pending chain turns out validly signed', async () => {
    const original = chainFrom(head, 1n);
    const clone = chainFrom(head, 3n); // a restored backup: same seqs, other units
    d.send(original.segment);
    d.send(clone.segment);
    await pool.release(); // the original is valid: now the clone conflicts with a verified chain
    await pool.release();
    await commitTurn();
    await hub.core.flush();

    const evidence = await hub.core.ledger.listEquivocations(d.channelId);
    expect(evidence).toHaveLength(1);
    expect(evidence[0]!.seq).toBe(8n);
    const row = (await hub.core.ledger.getChannel(d.channelId))!;
    expect(row.equivocated).toBe(true);
    expect(row.head.cumUnits).toBe(original.head.cumUnits);
    expect((await rejectionCounts(hub)).EQUIVOCATION).toBe(1n);
  });
});
