// The race between optimistic chaining and the worker's signature verdict [P-5.3]: a segment is
// chained in memory before its signature is checked. A conflict against vouchers whose signature
// is not yet known must wait for the verdict: a forgery placed first must not turn the genuine
// segment that follows into equivocation evidence against an innocent device.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildSegment,
  encodeSegment,
  generateKeyPair,
  genesisHead,
  toHex,
  topics,
  type BuiltSegment,
  type Head,
  type KeyPair,
  type Segment,
} from '../../protocol/index.js';
import { bareCore, GatedPool, type BareCore } from './helpers/bare-core.js';
import { tempDir } from './helpers/hub.js';

const PRICE = 2n;
const turn = () => new Promise((r) => setImmediate(r));

function chainFrom(channelId: Uint8Array, key: KeyPair, prev: Head, count: number, unitsEach: bigint): BuiltSegment {
  const vouchers = [];
  let units = prev.cumUnits;
  for (let i = 0; i < count; i++) {
    units += unitsEach;
    vouchers.push({ cumUnits: units, cumAmount: units * PRICE, deviceTimeMs: 1000n + prev.seq + BigInt(i) });
  }
  return buildSegment({ channelId, prev, vouchers, secretKey: key.secretKey });
}

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
  let key: KeyPair;
  let channelId: Uint8Array;
  let head: Head;

  const send = (s: Segment) => hub.core.pipeline.onMessage(topics.segment(toHex(key.publicKey)), encodeSegment(s));
  const counts = () => Object.fromEntries(hub.core.store.rejectionCounts().map((c) => [c.reason, c.events]));

  beforeEach(async () => {
    tmp = tempDir();
    pool = new GatedPool();
    hub = bareCore(tmp.dir, {}, pool);
    key = generateKeyPair();
    hub.core.enrol([{ publicKey: toHex(key.publicKey), unit: 'Wh', pricePerUnit: PRICE, capacity: 1_000_000n }]);
    channelId = hub.core.registry.currentChannel(toHex(key.publicKey))!.id;
    const first = chainFrom(channelId, key, genesisHead(channelId), 4, 1n);
    send(first.segment);
    await pool.release();
    await turn();
    head = first.head;
    expect(hub.core.store.getChannel(channelId)!.head.seq).toBe(4n);
  });
  afterEach(() => {
    hub.close();
    tmp.cleanup();
  });

  it('waits for the verdict on a pending forgery and then takes the genuine segment, with no evidence', async () => {
    const genuine = chainFrom(channelId, key, head, 4, 1n);
    send(forge(genuine.segment)); // chained optimistically, its check held by the pool
    send(genuine.segment); // same seqs, different vouchers, valid signature
    await pool.release(); // the forgery is found invalid and rolled back
    await pool.release(); // the genuine segment, placed after the verdict, is checked
    await turn();

    expect(hub.core.store.listEquivocations(channelId)).toHaveLength(0);
    const row = hub.core.store.getChannel(channelId)!;
    expect(row.equivocated).toBe(false);
    expect(row.head.seq).toBe(8n);
    expect(row.head.cumUnits).toBe(genuine.head.cumUnits);
    expect(counts().EQUIVOCATION).toBeUndefined();
    expect(counts().SIG_INVALID).toBe(1n);
  });

  it('never announces a head whose signature is still being checked in a RESYNC', async () => {
    const genuine = chainFrom(channelId, key, head, 4, 1n);
    const next = chainFrom(channelId, key, genuine.head, 4, 1n);
    send(forge(genuine.segment)); // pending at the live head
    send(next.segment); // links to the genuine head, not to the forgery: BAD_LINK, RESYNC
    const resyncs = hub.controls.flatMap((c) => (c.control.kind === 'resync' ? [c.control] : []));
    expect(resyncs.length).toBeGreaterThan(0);
    // The device can act only on a head it signed itself; a forged head would read as a mismatch.
    for (const r of resyncs) expect(toHex(r.head.hash)).toBe(toHex(head.hash));
    await pool.release();
    await turn();
  });

  it('still records equivocation when the pending chain turns out validly signed', async () => {
    const original = chainFrom(channelId, key, head, 4, 1n);
    const clone = chainFrom(channelId, key, head, 4, 3n); // a restored backup: same seqs, other units
    send(original.segment);
    send(clone.segment);
    await pool.release(); // the original is valid: now the clone conflicts with a verified chain
    await pool.release();
    await turn();
    hub.core.flush();

    const evidence = hub.core.store.listEquivocations(channelId);
    expect(evidence).toHaveLength(1);
    expect(evidence[0]!.seq).toBe(8n);
    const row = hub.core.store.getChannel(channelId)!;
    expect(row.equivocated).toBe(true);
    expect(row.head.cumUnits).toBe(original.head.cumUnits);
    expect(counts().EQUIVOCATION).toBe(1n);
  });
});
