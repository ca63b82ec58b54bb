// Segment verification [P-4.5]: the hub's hot path, run once per received segment. It returns the
// first failing code in the spec's order, or the new head with every voucher and its hash. Cost per
// voucher is one tagged SHA-256 into a reused buffer plus a few bigint comparisons; the one
// signature check is amortised over the segment.

import { isU64, U64_MAX, bytesEqual } from './bytes.js';
import { MAX_SEGMENT_VOUCHERS, SIGNATURE_SIZE } from './codec.js';
import { defaultBackend, type Ed25519Backend } from './crypto/index.js';
import { fail, ok, type Result } from './errors.js';
import { segmentHeadSeq, verifySegmentSignature, type Segment } from './segment.js';
import { ChainHasher, voucherRuleViolation, type Head, type Voucher } from './voucher.js';

/** What the verifier knows about the channel: its id, device key, price and effective capacity. */
export interface SegmentChannel {
  channelId: Uint8Array;
  deviceKey: Uint8Array;
  pricePerUnit: bigint;
  /** The largest capacity the hub has granted [P-3.3]. */
  capacity: bigint;
}

export interface VerifiedSegment {
  head: Head;
  hashes: Uint8Array[];
  vouchers: Voucher[];
}

const isBytes = (v: unknown, length: number): boolean => v instanceof Uint8Array && v.length === length;
const isU64Value = (v: unknown): boolean => typeof v === 'bigint' && isU64(v);

/**
 * The shape a decoded segment always has. A segment built by hand (or read back from storage) is
 * held to the same shape, so no malformed object can make verification throw.
 */
function shapeProblem(s: Segment): Result<never> | undefined {
  if (typeof s !== 'object' || s === null) return fail('DECODE_FIELD', 'not a segment');
  if (!isBytes(s.channelId, 32) || !isBytes(s.prevHash, 32))
    return fail('DECODE_FIELD', 'channelId and prevHash are 32 bytes');
  if (!isBytes(s.signature, SIGNATURE_SIZE)) return fail('DECODE_FIELD', 'signature is 64 bytes');
  if (!Array.isArray(s.vouchers) || s.vouchers.length < 1 || s.vouchers.length > MAX_SEGMENT_VOUCHERS) {
    return fail('DECODE_COUNT', `a segment holds 1..${MAX_SEGMENT_VOUCHERS} vouchers`);
  }
  if (!isU64Value(s.firstSeq)) return fail('U64_OVERFLOW', 'firstSeq');
  for (const v of s.vouchers) {
    if (typeof v !== 'object' || v === null) return fail('DECODE_FIELD', 'voucher');
    if (!isU64Value(v.cumUnits) || !isU64Value(v.cumAmount) || !isU64Value(v.deviceTimeMs)) {
      return fail('U64_OVERFLOW', 'voucher field');
    }
  }
  return undefined;
}

function contextProblem(prev: Head, channel: SegmentChannel): Result<never> | undefined {
  if (typeof prev !== 'object' || prev === null || typeof channel !== 'object' || channel === null) {
    return fail('DECODE_FIELD', 'head and channel are required');
  }
  if (!isBytes(channel.channelId, 32) || !isBytes(prev.hash, 32))
    return fail('DECODE_FIELD', 'channel id and head hash are 32 bytes');
  if (![prev.seq, prev.cumUnits, prev.cumAmount, channel.pricePerUnit, channel.capacity].every(isU64Value)) {
    return fail('U64_OVERFLOW', 'head or channel value');
  }
  return undefined;
}

/**
 * Verifies segment `s` against the previous head and the channel [P-4.5]. Returns the first failing
 * code in this order: WRONG_CHANNEL, SEQ_GAP / SEQ_STALE, BAD_LINK, SIG_INVALID, then the voucher
 * rules of [P-4.3] voucher by voucher (UNITS_NOT_INCREASING, AMOUNT_DECREASED, U64_OVERFLOW,
 * AMOUNT_PRICE_MISMATCH, OVER_CAPACITY). The signature comes before the rules because a rule's
 * verdict is acted on (OVER_CAPACITY exhausts a channel): only what the device signed may be.
 * A malformed argument gives DECODE_* or U64_OVERFLOW. Never throws.
 */
export function verifySegment(
  s: Segment,
  prev: Head,
  channel: SegmentChannel,
  backend: Ed25519Backend = defaultBackend,
): Result<VerifiedSegment> {
  const malformed = shapeProblem(s) ?? contextProblem(prev, channel);
  if (malformed !== undefined) return malformed;

  if (!bytesEqual(s.channelId, channel.channelId)) return fail('WRONG_CHANNEL');
  const expectedSeq = prev.seq + 1n;
  if (s.firstSeq > expectedSeq) return fail('SEQ_GAP', `first seq ${s.firstSeq}, head ${prev.seq}`);
  if (s.firstSeq < expectedSeq) return fail('SEQ_STALE', `first seq ${s.firstSeq}, head ${prev.seq}`);
  if (!bytesEqual(s.prevHash, prev.hash)) return fail('BAD_LINK', `prevHash of seq ${s.firstSeq}`);
  const count = s.vouchers.length;
  if (segmentHeadSeq(s) > U64_MAX) return fail('U64_OVERFLOW', 'last seq beyond u64');

  const { channelId, pricePerUnit, capacity } = channel;
  const hasher = new ChainHasher(channelId);
  const hashes: Uint8Array[] = new Array(count);
  const vouchers: Voucher[] = new Array(count);
  let prevHash = prev.hash;
  let prevUnits = prev.cumUnits;
  let prevAmount = prev.cumAmount;
  let seq = s.firstSeq;
  // One pass: the first rule a voucher breaks is noted, and reported only after the signature.
  let broken: { code: NonNullable<ReturnType<typeof voucherRuleViolation>>; seq: bigint } | undefined;
  for (let j = 0; j < count; j++) {
    const { cumUnits, cumAmount, deviceTimeMs } = s.vouchers[j]!;
    if (broken === undefined) {
      const violation = voucherRuleViolation(prevUnits, prevAmount, cumUnits, cumAmount, pricePerUnit, capacity);
      if (violation !== undefined) broken = { code: violation, seq };
    }
    const hash = hasher.hash(seq, cumUnits, cumAmount, deviceTimeMs, prevHash);
    vouchers[j] = { channelId, seq, cumUnits, cumAmount, deviceTimeMs, prevHash };
    hashes[j] = hash;
    prevHash = hash;
    prevUnits = cumUnits;
    prevAmount = cumAmount;
    seq++;
  }

  // One signature over the head covers every voucher above through the hash links [P-4.4].
  if (!verifySegmentSignature(s.signature, prevHash, channel.deviceKey, backend)) return fail('SIG_INVALID');
  if (broken !== undefined) return fail(broken.code, `seq ${broken.seq}`);
  return ok({ head: { seq: seq - 1n, hash: prevHash, cumUnits: prevUnits, cumAmount: prevAmount }, hashes, vouchers });
}
