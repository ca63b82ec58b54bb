import { describe, expect, it } from 'vitest';
import {
  backends,
  buildSegment,
  bytesEqual,
  decodeSegment,
  encodeSegment,
  genesisHead,
  U64_MAX,
  verifySegment,
  voucherHash,
  encodeVoucher,
  type Head,
  type Segment,
  type VoucherFields,
} from '../../protocol/index.js';
import { chainSegment, device, makeChannel, nextVouchers, otherDevice } from './fixtures.js';

const ch = makeChannel();
const genesis = genesisHead(ch.channelId);
const codeOf = (r: { ok: boolean; code?: string }) => (r.ok ? 'ok' : r.code);

/** A correctly signed segment over arbitrary voucher values, so only the rule under test fails. */
function signed(prev: Head, vouchers: VoucherFields[], channelId = ch.channelId): Segment {
  return buildSegment({ channelId, prev, vouchers, secretKey: device.secretKey }).segment;
}

describe('verifySegment: a valid chain [P-4.5]', () => {
  it('verifies consecutive segments of 64, 1 and 17 vouchers, each from the head of the last', () => {
    let head = genesis;
    let seq = 0n;
    for (const count of [64, 1, 17]) {
      const built = chainSegment(ch, head, count);
      const wire = decodeSegment(encodeSegment(built.segment));
      expect(wire.ok).toBe(true);
      if (!wire.ok) return;
      const result = verifySegment(wire.value, head, ch.ctx);
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(result.value.head).toEqual(built.head);
      expect(result.value.hashes).toEqual(built.hashes);
      expect(result.value.vouchers).toHaveLength(count);
      // Each rebuilt voucher hashes to the reported hash and links to its predecessor [P-4.2].
      result.value.vouchers.forEach((v, j) => {
        expect(v.seq).toBe(seq + BigInt(j + 1));
        expect(bytesEqual(voucherHash(encodeVoucher(v)), result.value.hashes[j]!)).toBe(true);
        const prevHash = j === 0 ? head.hash : result.value.hashes[j - 1]!;
        expect(bytesEqual(v.prevHash, prevHash)).toBe(true);
      });
      seq += BigInt(count);
      head = result.value.head;
    }
    expect(head.seq).toBe(82n);
    expect(head.cumUnits).toBe(82n);
    expect(head.cumAmount).toBe(82n * 7n);
  });

  it('gives the same verdict with every backend', () => {
    const built = chainSegment(ch, genesis, 8);
    const tampered = { ...built.segment, signature: built.segment.signature.map((b, i) => (i === 3 ? b ^ 1 : b)) };
    for (const backend of backends) {
      expect(codeOf(verifySegment(built.segment, genesis, ch.ctx, backend))).toBe('ok');
      expect(codeOf(verifySegment(tampered, genesis, ch.ctx, backend))).toBe('SIG_INVALID');
    }
  });

  it('accepts a zero price (free units still count) and an amount exactly at capacity', () => {
    const free = makeChannel({ pricePerUnit: 0n, nonce: 9n });
    const built = chainSegment(free, genesisHead(free.channelId), 3);
    expect(codeOf(verifySegment(built.segment, genesisHead(free.channelId), free.ctx))).toBe('ok');
    const tight = makeChannel({ capacity: 21n, nonce: 10n });
    const full = chainSegment(tight, genesisHead(tight.channelId), 3);
    expect(codeOf(verifySegment(full.segment, genesisHead(tight.channelId), tight.ctx))).toBe('ok');
  });
});

describe('verifySegment: every reason code [P-4.3, P-4.5]', () => {
  const first = chainSegment(ch, genesis, 4);
  const head4 = first.head;

  it('WRONG_CHANNEL: a segment for another channel', () => {
    const other = makeChannel({ nonce: 2n });
    expect(codeOf(verifySegment(first.segment, genesis, other.ctx))).toBe('WRONG_CHANNEL');
  });

  it('SEQ_GAP: the first seq is beyond head + 1', () => {
    const skipped = signed({ ...head4, seq: head4.seq + 1n }, nextVouchers(head4, 2, 7n));
    expect(codeOf(verifySegment(skipped, head4, ch.ctx))).toBe('SEQ_GAP');
  });

  it('SEQ_STALE: the first seq is at or below the head', () => {
    expect(codeOf(verifySegment(first.segment, head4, ch.ctx))).toBe('SEQ_STALE');
    const overlapping = signed({ ...head4, seq: head4.seq - 1n }, nextVouchers(head4, 2, 7n));
    expect(codeOf(verifySegment(overlapping, head4, ch.ctx))).toBe('SEQ_STALE');
  });

  it('BAD_LINK: prevHash is not the hash of the head', () => {
    const forked = signed({ ...head4, hash: new Uint8Array(32).fill(9) }, nextVouchers(head4, 2, 7n));
    expect(codeOf(verifySegment(forked, head4, ch.ctx))).toBe('BAD_LINK');
  });

  it('UNITS_NOT_INCREASING: a voucher with no new unit, first or later in the segment', () => {
    const flat = signed(head4, [{ cumUnits: head4.cumUnits, cumAmount: head4.cumAmount, deviceTimeMs: 0n }]);
    expect(codeOf(verifySegment(flat, head4, ch.ctx))).toBe('UNITS_NOT_INCREASING');
    const v = nextVouchers(head4, 3, 7n);
    v[2] = { ...v[1]! };
    const r = verifySegment(signed(head4, v), head4, ch.ctx);
    expect(codeOf(r)).toBe('UNITS_NOT_INCREASING');
    expect(!r.ok && r.detail).toBe('seq 7');
  });

  it('AMOUNT_DECREASED: the cumulative amount goes down', () => {
    const down = signed(head4, [{ cumUnits: head4.cumUnits + 1n, cumAmount: head4.cumAmount - 1n, deviceTimeMs: 0n }]);
    expect(codeOf(verifySegment(down, head4, ch.ctx))).toBe('AMOUNT_DECREASED');
  });

  it('AMOUNT_PRICE_MISMATCH: amount is not units x price', () => {
    const units = head4.cumUnits + 1n;
    const off = signed(head4, [{ cumUnits: units, cumAmount: units * 7n + 1n, deviceTimeMs: 0n }]);
    expect(codeOf(verifySegment(off, head4, ch.ctx))).toBe('AMOUNT_PRICE_MISMATCH');
  });

  it('U64_OVERFLOW: units x price does not fit in u64', () => {
    const dear = makeChannel({ pricePerUnit: 1n << 63n, capacity: U64_MAX, nonce: 3n });
    const g = genesisHead(dear.channelId);
    const vouchers = [
      { cumUnits: 1n, cumAmount: 1n << 63n, deviceTimeMs: 0n },
      { cumUnits: 2n, cumAmount: U64_MAX, deviceTimeMs: 0n },
    ];
    const s = buildSegment({ channelId: dear.channelId, prev: g, vouchers, secretKey: device.secretKey }).segment;
    expect(codeOf(verifySegment(s, g, dear.ctx))).toBe('U64_OVERFLOW');
  });

  it('OVER_CAPACITY: the amount passes the effective capacity', () => {
    const units = head4.cumUnits + 1n;
    const s = signed(head4, [{ cumUnits: units, cumAmount: units * 7n, deviceTimeMs: 0n }]);
    expect(codeOf(verifySegment(s, head4, { ...ch.ctx, capacity: units * 7n - 1n }))).toBe('OVER_CAPACITY');
    expect(codeOf(verifySegment(s, head4, { ...ch.ctx, capacity: units * 7n }))).toBe('ok');
  });

  it('SIG_INVALID: a flipped signature bit, a tampered voucher, or another device key', () => {
    const sig = first.segment.signature.slice();
    sig[10]! ^= 0x40;
    expect(codeOf(verifySegment({ ...first.segment, signature: sig }, genesis, ch.ctx))).toBe('SIG_INVALID');
    const vouchers = first.segment.vouchers.map((v) => ({ ...v }));
    vouchers[1]!.deviceTimeMs += 1n; // not a rule, but it changes every later hash
    expect(codeOf(verifySegment({ ...first.segment, vouchers }, genesis, ch.ctx))).toBe('SIG_INVALID');
    const stranger = buildSegment({
      channelId: ch.channelId,
      prev: genesis,
      vouchers: nextVouchers(genesis, 2, 7n),
      secretKey: otherDevice.secretKey,
    });
    expect(codeOf(verifySegment(stranger.segment, genesis, ch.ctx))).toBe('SIG_INVALID');
  });
});

describe('verifySegment: order of checks [P-4.5]', () => {
  const first = chainSegment(ch, genesis, 4);
  it('reports the channel before the seq, the seq before the link, the link before the signature and rules', () => {
    const other = makeChannel({ nonce: 4n });
    const gap = { ...first.segment, firstSeq: 5n };
    expect(codeOf(verifySegment(gap, genesis, other.ctx))).toBe('WRONG_CHANNEL');
    expect(codeOf(verifySegment({ ...gap, prevHash: new Uint8Array(32) }, genesis, ch.ctx))).toBe('SEQ_GAP');
    const badLinkAndRule = {
      ...first.segment,
      prevHash: new Uint8Array(32),
      vouchers: [{ cumUnits: 0n, cumAmount: 0n, deviceTimeMs: 0n }],
    };
    expect(codeOf(verifySegment(badLinkAndRule, genesis, ch.ctx))).toBe('BAD_LINK');
  });
  it('reports the signature before the rules: an unsigned rule breaker is SIG_INVALID', () => {
    const v = first.segment.vouchers.map((x) => ({ ...x }));
    v[1]!.cumAmount += 1n; // mismatch at seq 2
    v[2]!.cumUnits = 0n; // and units not increasing at seq 3
    expect(verifySegment({ ...first.segment, vouchers: v }, genesis, ch.ctx)).toEqual({
      ok: false,
      code: 'SIG_INVALID',
    });
    const overCapacity = { ...first.segment, signature: new Uint8Array(64) };
    expect(codeOf(verifySegment(overCapacity, genesis, { ...ch.ctx, capacity: 1n }))).toBe('SIG_INVALID');
  });
  it('reports the first failing voucher of a signed segment', () => {
    const v = first.segment.vouchers.map((x) => ({ ...x }));
    v[1]!.cumAmount += 1n; // mismatch at seq 2
    v[2]!.cumUnits = 0n; // and units not increasing at seq 3
    const r = verifySegment(signed(genesis, v), genesis, ch.ctx);
    expect(r).toEqual({ ok: false, code: 'AMOUNT_PRICE_MISMATCH', detail: 'seq 2' });
  });
});

describe('verifySegment never throws on malformed arguments', () => {
  const s = chainSegment(ch, genesis, 2).segment;
  const cases: Array<[string, unknown, unknown, unknown]> = [
    ['null segment', null, genesis, ch.ctx],
    ['short channel id', { ...s, channelId: new Uint8Array(31) }, genesis, ch.ctx],
    ['short signature', { ...s, signature: new Uint8Array(63) }, genesis, ch.ctx],
    ['no vouchers', { ...s, vouchers: [] }, genesis, ch.ctx],
    ['1025 vouchers', { ...s, vouchers: new Array(1025).fill(s.vouchers[0]) }, genesis, ch.ctx],
    ['vouchers not an array', { ...s, vouchers: 'x' }, genesis, ch.ctx],
    ['null voucher', { ...s, vouchers: [null] }, genesis, ch.ctx],
    [
      'number instead of bigint',
      { ...s, vouchers: [{ cumUnits: 1, cumAmount: 7n, deviceTimeMs: 0n }] },
      genesis,
      ch.ctx,
    ],
    ['negative seq', { ...s, firstSeq: -1n }, genesis, ch.ctx],
    [
      'u64 overflow of a field',
      { ...s, vouchers: [{ cumUnits: U64_MAX + 1n, cumAmount: 7n, deviceTimeMs: 0n }] },
      genesis,
      ch.ctx,
    ],
    ['last seq beyond u64', { ...s, firstSeq: U64_MAX }, { ...genesis, seq: U64_MAX - 1n }, ch.ctx],
    ['null head', s, null, ch.ctx],
    ['null channel', s, genesis, null],
    ['channel without key', s, genesis, { ...ch.ctx, deviceKey: undefined }],
    ['capacity not a bigint', s, genesis, { ...ch.ctx, capacity: 5 }],
  ];
  for (const [name, seg, prev, ctx] of cases) {
    it(name, () => {
      const r = verifySegment(seg as Segment, prev as Head, ctx as typeof ch.ctx);
      expect(r.ok).toBe(false);
    });
  }
});
