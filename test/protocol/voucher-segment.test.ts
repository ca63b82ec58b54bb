import { describe, expect, it } from 'vitest';
import {
  buildSegment,
  checkVoucherRules,
  concatBytes,
  decodeSegment,
  decodeVoucher,
  defaultBackend,
  encodeSegment,
  encodeVoucher,
  genesisHead,
  lastSeqOf,
  segmentHashes,
  segmentHeadSeq,
  segmentVoucher,
  segmentSize,
  sha256,
  signSegmentHead,
  SIZE_CAPS,
  tag,
  U64_MAX,
  verifySegmentSignature,
  voucherHash,
  type Voucher,
} from '../../protocol/index.js';
import { chainSegment, device, makeChannel } from './fixtures.js';

const ch = makeChannel();
const genesis = genesisHead(ch.channelId);
const codeOf = (r: { ok: boolean; code?: string }) => (r.ok ? 'ok' : r.code);

describe('voucher [P-4.1, P-4.2]', () => {
  const v: Voucher = {
    channelId: ch.channelId,
    seq: 1n,
    cumUnits: 3n,
    cumAmount: 21n,
    deviceTimeMs: 99n,
    prevHash: ch.channelId,
  };

  it('is 96 bytes at the offsets of the table', () => {
    const bytes = encodeVoucher(v);
    const view = new DataView(bytes.buffer);
    expect(bytes.length).toBe(96);
    expect(bytes.subarray(0, 32)).toEqual(ch.channelId);
    expect([view.getBigUint64(32), view.getBigUint64(40), view.getBigUint64(48), view.getBigUint64(56)]).toEqual([
      1n,
      3n,
      21n,
      99n,
    ]);
    expect(bytes.subarray(64)).toEqual(ch.channelId);
  });

  it('hashes as SHA-256 of the voucher tag and the bytes, from bytes or object', () => {
    const expected = sha256(
      concatBytes(new TextEncoder().encode('tally/v1/voucher'), new Uint8Array([0]), encodeVoucher(v)),
    );
    expect(voucherHash(v)).toEqual(expected);
    expect(voucherHash(encodeVoucher(v))).toEqual(expected);
    expect(() => voucherHash(new Uint8Array(95))).toThrow(TypeError);
  });

  it('round-trips and rejects wrong sizes and seq 0', () => {
    expect(decodeVoucher(encodeVoucher(v))).toEqual({ ok: true, value: v });
    expect(codeOf(decodeVoucher(encodeVoucher(v).subarray(0, 95)))).toBe('DECODE_TRUNCATED');
    expect(codeOf(decodeVoucher(new Uint8Array(97)))).toBe('DECODE_TRAILING');
    expect(codeOf(decodeVoucher(encodeVoucher({ ...v, seq: 0n })))).toBe('DECODE_FIELD');
    expect(codeOf(decodeVoucher(new Uint8Array(0)))).toBe('DECODE_EMPTY');
    expect(() => encodeVoucher({ ...v, cumUnits: U64_MAX + 1n })).toThrow(TypeError);
  });

  it('checks the value rules in the order of [P-4.3]', () => {
    const prev = { cumUnits: 10n, cumAmount: 70n };
    const check = (cumUnits: bigint, cumAmount: bigint, price = 7n, capacity = 1000n) =>
      codeOf(checkVoucherRules(prev, { cumUnits, cumAmount }, price, capacity));
    expect(check(11n, 77n)).toBe('ok');
    expect(check(10n, 70n)).toBe('UNITS_NOT_INCREASING');
    expect(check(11n, 69n)).toBe('AMOUNT_DECREASED');
    expect(check(11n, 78n)).toBe('AMOUNT_PRICE_MISMATCH');
    expect(check(11n, U64_MAX, 1n << 62n)).toBe('U64_OVERFLOW');
    expect(check(11n, 77n, 7n, 76n)).toBe('OVER_CAPACITY');
  });
});

describe('segment wire format [P-6.5]', () => {
  const built = chainSegment(ch, genesis, 3);

  it('is 140 + 24 x count bytes at the offsets of the table', () => {
    const bytes = encodeSegment(built.segment);
    expect(bytes.length).toBe(140 + 24 * 3);
    expect(segmentSize(64)).toBe(1676);
    expect(segmentSize(1024)).toBe(SIZE_CAPS.segment);
    const view = new DataView(bytes.buffer);
    expect([bytes[0], bytes[1]]).toEqual([0x01, 1]);
    expect(bytes.subarray(2, 34)).toEqual(ch.channelId);
    expect(view.getBigUint64(34)).toBe(1n);
    expect(bytes.subarray(42, 74)).toEqual(ch.channelId); // prevHash of seq 1 = channel id
    expect(view.getUint16(74)).toBe(3);
    expect(view.getBigUint64(76)).toBe(1n); // cumUnits of seq 1
    expect(view.getBigUint64(84)).toBe(7n); // cumAmount of seq 1
    expect(bytes.subarray(bytes.length - 64)).toEqual(built.segment.signature);
  });

  it('round-trips', () => {
    expect(decodeSegment(encodeSegment(built.segment))).toEqual({ ok: true, value: built.segment });
  });

  it('rejects bad counts, seq 0, and seqs that would pass u64', () => {
    const bytes = encodeSegment(built.segment);
    const zero = bytes.slice();
    zero[75] = 0;
    expect(codeOf(decodeSegment(zero))).toBe('DECODE_COUNT');
    const many = bytes.slice();
    new DataView(many.buffer).setUint16(74, 1025);
    expect(codeOf(decodeSegment(many))).toBe('DECODE_COUNT');
    const more = bytes.slice();
    more[75] = 4; // says 4, carries 3
    expect(codeOf(decodeSegment(more))).toBe('DECODE_TRUNCATED');
    const less = bytes.slice();
    less[75] = 2; // says 2, carries 3
    expect(codeOf(decodeSegment(less))).toBe('DECODE_TRAILING');
    const seq0 = bytes.slice();
    seq0.fill(0, 34, 42);
    expect(codeOf(decodeSegment(seq0))).toBe('DECODE_FIELD');
    const top = bytes.slice();
    new DataView(top.buffer).setBigUint64(34, U64_MAX - 1n); // 3 vouchers from 2^64-2
    expect(codeOf(decodeSegment(top))).toBe('U64_OVERFLOW');
    expect(codeOf(decodeSegment(new Uint8Array(SIZE_CAPS.segment + 1)))).toBe('DECODE_TOO_LARGE');
  });

  it('refuses to encode a malformed segment', () => {
    expect(() => encodeSegment({ ...built.segment, vouchers: [] })).toThrow(TypeError);
    expect(() => encodeSegment({ ...built.segment, signature: new Uint8Array(63) })).toThrow(TypeError);
    expect(() => encodeSegment({ ...built.segment, firstSeq: -1n })).toThrow(TypeError);
  });
});

describe('buildSegment [P-4.3, P-4.4]', () => {
  it('chains from the previous head and signs the last hash', () => {
    const built = chainSegment(ch, genesis, 5);
    expect(built.segment.firstSeq).toBe(1n);
    expect(segmentHeadSeq(built.segment)).toBe(5n);
    expect(built.head).toEqual({ seq: 5n, hash: built.hashes[4], cumUnits: 5n, cumAmount: 35n });
    let prevHash = ch.channelId;
    built.segment.vouchers.forEach((f, j) => {
      const v: Voucher = { channelId: ch.channelId, seq: BigInt(j + 1), ...f, prevHash };
      expect(voucherHash(v)).toEqual(built.hashes[j]);
      prevHash = built.hashes[j]!;
    });
    const message = concatBytes(tag('segment'), built.head.hash);
    expect(defaultBackend.verify(built.segment.signature, message, device.publicKey)).toBe(true);
    expect(verifySegmentSignature(built.segment.signature, built.head.hash, device.publicKey)).toBe(true);
    expect(signSegmentHead(built.head.hash, device.secretKey)).toEqual(built.segment.signature);
    expect(verifySegmentSignature(built.segment.signature, built.hashes[3]!, device.publicKey)).toBe(false);
    expect(verifySegmentSignature(built.segment.signature, new Uint8Array(31), device.publicKey)).toBe(false);
  });

  it('throws on arguments no segment can carry', () => {
    const args = { channelId: ch.channelId, prev: genesis, secretKey: device.secretKey };
    expect(() => buildSegment({ ...args, vouchers: [] })).toThrow(TypeError);
    const one = { cumUnits: 1n, cumAmount: 7n, deviceTimeMs: 0n };
    expect(() => buildSegment({ ...args, vouchers: new Array(1025).fill(one) })).toThrow(TypeError);
    expect(() => buildSegment({ ...args, vouchers: [{ ...one, cumAmount: -1n }] })).toThrow(TypeError);
    expect(() => buildSegment({ ...args, channelId: new Uint8Array(31), vouchers: [one] })).toThrow(TypeError);
    expect(() => buildSegment({ ...args, prev: { ...genesis, seq: U64_MAX }, vouchers: [one] })).toThrow(TypeError);
  });
});

describe('segment chain helpers', () => {
  const first = chainSegment(ch, genesis, 3);
  const second = chainSegment(ch, first.head, 4);

  it('name the last seq of a run of vouchers', () => {
    expect(lastSeqOf(1n, 1)).toBe(1n);
    expect(lastSeqOf(4n, 4)).toBe(7n);
    expect(segmentHeadSeq(second.segment)).toBe(7n);
  });

  it('hash a segment chain from its own prevHash, as buildSegment did', () => {
    expect(segmentHashes(first.segment)).toEqual(first.hashes);
    expect(segmentHashes(second.segment)).toEqual(second.hashes);
    // A changed voucher changes its hash and every hash after it, not the ones before.
    const vouchers = second.segment.vouchers.map((v, j) => (j === 1 ? { ...v, deviceTimeMs: v.deviceTimeMs + 1n } : v));
    const changed = segmentHashes({ ...second.segment, vouchers });
    expect(changed[0]).toEqual(second.hashes[0]);
    for (const j of [1, 2, 3]) expect(changed[j]).not.toEqual(second.hashes[j]);
  });

  it('rebuild any voucher of a segment in full, and nothing outside it', () => {
    for (let seq = 4n; seq <= 7n; seq++) {
      const v = segmentVoucher(second.segment, seq)!;
      const j = Number(seq - 4n);
      expect(v).toEqual({
        channelId: ch.channelId,
        seq,
        ...second.segment.vouchers[j]!,
        prevHash: j === 0 ? first.head.hash : second.hashes[j - 1],
      });
      expect(voucherHash(v)).toEqual(second.hashes[j]);
    }
    expect(segmentVoucher(second.segment, 3n)).toBeUndefined();
    expect(segmentVoucher(second.segment, 8n)).toBeUndefined();
  });
});
