import { describe, expect, it } from 'vitest';
import {
  backends,
  compareChannelIds,
  concatBytes,
  decodeEntry,
  decodeEpochRecord,
  encodeEntry,
  encodeEpochRecord,
  ENTRY_SIZE,
  genesisHead,
  makeEntry,
  signEpoch,
  sortEntries,
  tag,
  verifyEpoch,
  type EpochRecord,
} from '../../protocol/index.js';
import { chainSegment, device, hub, makeChannel } from './fixtures.js';

const codeOf = (r: { ok: boolean; code?: string }) => (r.ok ? 'ok' : r.code);
const ch = makeChannel();
const g = genesisHead(ch.channelId);
const first = chainSegment(ch, g, 10);
const second = chainSegment(ch, first.head, 5, 3n);

describe('settlement entry [P-8.2]', () => {
  it('spans from the settled head to the new head', () => {
    expect(makeEntry(1n, ch.channelId, g, first.head)).toEqual({
      epoch: 1n,
      channelId: ch.channelId,
      fromSeq: 1n,
      toSeq: 10n,
      deltaUnits: 10n,
      deltaAmount: 70n,
      cumUnits: 10n,
      cumAmount: 70n,
      headHash: first.head.hash,
      prevHeadHash: ch.channelId,
    });
    const later = makeEntry(2n, ch.channelId, first.head, second.head);
    expect([later.fromSeq, later.toSeq, later.deltaUnits, later.deltaAmount, later.cumUnits]).toEqual([
      11n,
      15n,
      15n,
      105n,
      25n,
    ]);
    expect(later.prevHeadHash).toEqual(first.head.hash);
    expect(() => makeEntry(3n, ch.channelId, second.head, second.head)).toThrow(TypeError);
  });

  it('is 153 bytes in the order of the table and round-trips', () => {
    const entry = makeEntry(2n, ch.channelId, first.head, second.head);
    const bytes = encodeEntry(entry);
    expect(bytes.length).toBe(ENTRY_SIZE);
    expect(ENTRY_SIZE).toBe(153);
    const view = new DataView(bytes.buffer);
    expect(bytes[0]).toBe(1);
    expect(view.getBigUint64(1)).toBe(2n);
    expect(bytes.subarray(9, 41)).toEqual(ch.channelId);
    expect([41, 49, 57, 65, 73, 81].map((o) => view.getBigUint64(o))).toEqual([11n, 15n, 15n, 105n, 25n, 175n]);
    expect(bytes.subarray(89, 121)).toEqual(second.head.hash);
    expect(bytes.subarray(121)).toEqual(first.head.hash);
    expect(decodeEntry(bytes)).toEqual({ ok: true, value: entry });
  });

  it('refuses spans that cannot exist', () => {
    const entry = makeEntry(2n, ch.channelId, first.head, second.head);
    for (const bad of [{ fromSeq: 0n }, { toSeq: 10n }, { deltaUnits: 26n }, { deltaAmount: 176n }]) {
      expect(() => encodeEntry({ ...entry, ...bad })).toThrow(TypeError);
    }
    const bytes = encodeEntry(entry);
    new DataView(bytes.buffer).setBigUint64(49, 10n); // toSeq below fromSeq
    expect(codeOf(decodeEntry(bytes))).toBe('DECODE_FIELD');
  });

  it('sorts entries by channel id bytes [P-8.3]', () => {
    const ids = [0x30, 0x02, 0xff, 0x10].map((b) => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? b : 0)));
    const entries = ids.map((channelId) => ({ ...makeEntry(1n, channelId, g, first.head) }));
    expect(sortEntries(entries).map((e) => e.channelId[0])).toEqual([0x02, 0x10, 0x30, 0xff]);
    expect(compareChannelIds(ids[0]!, ids[0]!)).toBe(0);
  });
});

describe('epoch record [P-8.4]', () => {
  const record: EpochRecord = {
    network: 'test-net',
    hubKey: hub.publicKey,
    epoch: 7n,
    closedAtMs: 1_700_000_000_000n,
    entryCount: 3,
    totalDeltaAmount: 999n,
    prevRoot: new Uint8Array(32),
    root: new Uint8Array(32).fill(1),
  };

  it('is laid out as the clause says and round-trips', () => {
    const bytes = encodeEpochRecord(record);
    expect(bytes.length).toBe(1 + 1 + 8 + 32 + 8 + 8 + 4 + 8 + 32 + 32);
    expect([bytes[0], bytes[1]]).toEqual([1, 8]);
    expect(new DataView(bytes.buffer).getUint32(58)).toBe(3);
    expect(decodeEpochRecord(bytes)).toEqual({ ok: true, value: record });
    expect(() => encodeEpochRecord({ ...record, network: 'Bad' })).toThrow(TypeError);
    expect(() => encodeEpochRecord({ ...record, entryCount: -1 })).toThrow(TypeError);
  });

  it('is signed by the hub over tag("epoch") || record, on every backend', () => {
    const signature = signEpoch(record, hub.secretKey);
    const bytes = encodeEpochRecord(record);
    for (const backend of backends) {
      expect(backend.verify(signature, concatBytes(tag('epoch'), bytes), hub.publicKey)).toBe(true);
      expect(verifyEpoch(record, signature, hub.publicKey, backend)).toBe(true);
      expect(verifyEpoch(bytes, signature, hub.publicKey, backend)).toBe(true);
      expect(verifyEpoch({ ...record, totalDeltaAmount: 1000n }, signature, hub.publicKey, backend)).toBe(false);
      expect(verifyEpoch(record, signature, device.publicKey, backend)).toBe(false);
    }
    expect(verifyEpoch({ ...record, network: '' }, signature, hub.publicKey)).toBe(false);
  });
});
