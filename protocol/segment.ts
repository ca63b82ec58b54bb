// Segments: vouchers i..k of one channel and one device signature over the head [P-4.4], and their
// wire encoding (type 0x01) [P-6.5]. The wire form carries only what the verifier cannot rebuild:
// the channel id, seq and prevHash once, then three u64 per voucher.

import { concatBytes, isU64, U64_MAX } from './bytes.js';
import {
  FRAMES,
  MAX_SEGMENT_VOUCHERS,
  MESSAGE_TYPES,
  PROTOCOL_VERSION,
  SEGMENT_HEADER_SIZE,
  SEGMENT_VOUCHER_SIZE,
  SIGNATURE_SIZE,
} from './codec.js';
import { defaultBackend, type Ed25519Backend } from './crypto/index.js';
import type { Result } from './errors.js';
import { tag } from './hash.js';
import { decodeFramed } from './reader.js';
import { ChainHasher, type Head, type Voucher } from './voucher.js';
import { ByteWriter } from './writer.js';

/** What a voucher carries beyond what its position in the chain implies [P-6.5]. */
export interface VoucherFields {
  cumUnits: bigint;
  cumAmount: bigint;
  deviceTimeMs: bigint;
}

export interface Segment {
  channelId: Uint8Array;
  firstSeq: bigint;
  prevHash: Uint8Array;
  vouchers: VoucherFields[];
  signature: Uint8Array;
}

/** Wire size of a segment of `count` vouchers: 140 + 24 x count [P-6.5]. */
export const segmentSize = (count: number): number =>
  SEGMENT_HEADER_SIZE + SEGMENT_VOUCHER_SIZE * count + SIGNATURE_SIZE;

/** Seq of the last of `count` vouchers from `firstSeq` (seqs are contiguous [P-4.1]). */
export function lastSeqOf(firstSeq: bigint, count: number): bigint {
  return firstSeq + BigInt(count) - 1n;
}

/** Seq of the segment's last voucher, which its signature covers. */
export function segmentHeadSeq(s: Pick<Segment, 'firstSeq' | 'vouchers'>): bigint {
  return lastSeqOf(s.firstSeq, s.vouchers.length);
}

/** The chained part of a segment: everything but the signature. */
export type SegmentChain = Pick<Segment, 'channelId' | 'firstSeq' | 'prevHash' | 'vouchers'>;

/** voucherHash of the first `count` vouchers, each linked to the one before [P-4.2]. */
function hashChain(s: SegmentChain, count: number): Uint8Array[] {
  const hasher = new ChainHasher(s.channelId);
  const hashes: Uint8Array[] = new Array(count);
  let prevHash = s.prevHash;
  let seq = s.firstSeq;
  for (let j = 0; j < count; j++) {
    const v = s.vouchers[j]!;
    prevHash = hasher.hash(seq, v.cumUnits, v.cumAmount, v.deviceTimeMs, prevHash);
    hashes[j] = prevHash;
    seq++;
  }
  return hashes;
}

/**
 * voucherHash of every voucher of a segment, chained from the segment's own prevHash [P-4.2]: the
 * hash at seq k commits to every voucher up to k. It checks no rule (verifySegment does); a caller
 * that holds a segment from a trusted place (its own store) uses it to compare or rebuild chains.
 */
export function segmentHashes(s: SegmentChain): Uint8Array[] {
  return hashChain(s, s.vouchers.length);
}

/** Voucher `seq` of a segment in full, its prevHash rebuilt through the chain; undefined outside. */
export function segmentVoucher(s: SegmentChain, seq: bigint): Voucher | undefined {
  if (seq < s.firstSeq || seq > segmentHeadSeq(s)) return undefined;
  const j = Number(seq - s.firstSeq);
  const v = s.vouchers[j]!;
  const prevHash = j === 0 ? s.prevHash : hashChain(s, j)[j - 1]!;
  return {
    channelId: s.channelId,
    seq,
    cumUnits: v.cumUnits,
    cumAmount: v.cumAmount,
    deviceTimeMs: v.deviceTimeMs,
    prevHash,
  };
}

const SEGMENT_TAG = tag('segment');

/** sig = Ed25519(deviceKey, tag("segment") || voucherHash(head)) [P-4.4]. */
export function signSegmentHead(
  headHash: Uint8Array,
  secretKey: Uint8Array,
  backend: Ed25519Backend = defaultBackend,
): Uint8Array {
  return backend.sign(concatBytes(SEGMENT_TAG, headHash), secretKey);
}

/** The device signature over a segment head [P-4.4]; false for anything invalid, never throws. */
export function verifySegmentSignature(
  signature: Uint8Array,
  headHash: Uint8Array,
  deviceKey: Uint8Array,
  backend: Ed25519Backend = defaultBackend,
): boolean {
  if (!(headHash instanceof Uint8Array) || headHash.length !== 32) return false;
  return backend.verify(signature, concatBytes(SEGMENT_TAG, headHash), deviceKey);
}

/** Throws a TypeError unless the vouchers fit a segment: 1..1024 of them, every field a u64. */
function assertVoucherFields(vouchers: readonly VoucherFields[]): void {
  if (!Array.isArray(vouchers) || vouchers.length < 1 || vouchers.length > MAX_SEGMENT_VOUCHERS) {
    throw new TypeError(`a segment holds 1..${MAX_SEGMENT_VOUCHERS} vouchers`);
  }
  for (const v of vouchers) {
    for (const value of [v.cumUnits, v.cumAmount, v.deviceTimeMs]) {
      if (typeof value !== 'bigint' || !isU64(value)) throw new TypeError('voucher fields must be u64 bigints');
    }
  }
}

export interface BuiltSegment {
  segment: Segment;
  /** The chain's new head: the last voucher of the segment. */
  head: Head;
  /** voucherHash of each voucher, in order (the agent stores them to check receipts). */
  hashes: Uint8Array[];
}

/**
 * Builds the chain from `prev` (seq prev.seq + 1, prevHash prev.hash, ...), hashes it and signs the
 * head [P-4.3, P-4.4]. It does not judge the values (price, capacity): verifySegment does. Throws a
 * TypeError on malformed arguments (programmer error).
 */
export function buildSegment(args: {
  channelId: Uint8Array;
  prev: Head;
  vouchers: VoucherFields[];
  secretKey: Uint8Array;
  backend?: Ed25519Backend;
}): BuiltSegment {
  const { channelId, prev, vouchers, secretKey, backend = defaultBackend } = args;
  if (!(channelId instanceof Uint8Array) || channelId.length !== 32) throw new TypeError('channelId must be 32 bytes');
  if (!(prev.hash instanceof Uint8Array) || prev.hash.length !== 32) throw new TypeError('prev.hash must be 32 bytes');
  assertVoucherFields(vouchers);
  const firstSeq = prev.seq + 1n;
  if (prev.seq < 0n || lastSeqOf(firstSeq, vouchers.length) > U64_MAX) throw new TypeError('seq out of u64 range');

  const hashes = segmentHashes({ channelId, firstSeq, prevHash: prev.hash, vouchers });
  const last = vouchers[vouchers.length - 1]!;
  const headHash = hashes[hashes.length - 1]!;
  const head: Head = {
    seq: lastSeqOf(firstSeq, vouchers.length),
    hash: headHash,
    cumUnits: last.cumUnits,
    cumAmount: last.cumAmount,
  };
  const segment: Segment = {
    channelId,
    firstSeq,
    prevHash: prev.hash,
    vouchers: vouchers.map((v) => ({ cumUnits: v.cumUnits, cumAmount: v.cumAmount, deviceTimeMs: v.deviceTimeMs })),
    signature: signSegmentHead(headHash, secretKey, backend),
  };
  return { segment, head, hashes };
}

/** Wire bytes of a segment [P-6.5]. Throws a TypeError on a malformed segment. */
export function encodeSegment(s: Segment): Uint8Array {
  assertVoucherFields(s.vouchers);
  const w = new ByteWriter(segmentSize(s.vouchers.length))
    .u8(MESSAGE_TYPES.segment, 'type')
    .u8(PROTOCOL_VERSION, 'version')
    .fixed(s.channelId, 32, 'channelId')
    .u64(s.firstSeq, 'firstSeq')
    .fixed(s.prevHash, 32, 'prevHash')
    .u16(s.vouchers.length, 'count');
  for (const v of s.vouchers)
    w.u64(v.cumUnits, 'cumUnits').u64(v.cumAmount, 'cumAmount').u64(v.deviceTimeMs, 'deviceTimeMs');
  return w.fixed(s.signature, SIGNATURE_SIZE, 'signature').finish();
}

/** Decodes a segment [P-6.5] (cap, type, version, count 1..1024, lengths, trailing, firstSeq >= 1). */
export function decodeSegment(bytes: Uint8Array): Result<Segment> {
  return decodeFramed(bytes, FRAMES.segment, (r) => {
    const channelId = r.fixed(32, 'channelId');
    const firstSeq = r.u64('firstSeq');
    const prevHash = r.fixed(32, 'prevHash');
    const count = r.count16(1, MAX_SEGMENT_VOUCHERS, 'voucher count');
    if (r.remaining < count * SEGMENT_VOUCHER_SIZE + SIGNATURE_SIZE) {
      r.stop(
        'DECODE_TRUNCATED',
        `${count} vouchers and a signature need ${count * SEGMENT_VOUCHER_SIZE + SIGNATURE_SIZE} bytes`,
      );
    }
    const vouchers: VoucherFields[] = new Array(count);
    for (let j = 0; j < count; j++) {
      vouchers[j] = { cumUnits: r.u64('cumUnits'), cumAmount: r.u64('cumAmount'), deviceTimeMs: r.u64('deviceTimeMs') };
    }
    const signature = r.fixed(SIGNATURE_SIZE, 'signature');
    r.check(firstSeq >= 1n, 'firstSeq must be >= 1');
    r.check(lastSeqOf(firstSeq, count) <= U64_MAX, 'last seq beyond u64', 'U64_OVERFLOW');
    return { channelId, firstSeq, prevHash, vouchers, signature };
  });
}
