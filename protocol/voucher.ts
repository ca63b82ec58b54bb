// Vouchers and the hash chain [P-4.1, P-4.2, P-4.3]. Every unit of usage is one 96-byte voucher that
// names its channel and hashes its predecessor, so one signature over the head covers them all.
// The agent hashes each voucher once when it makes it and the hub once when it verifies it, so the
// chain hasher below reuses one buffer and calls the one-shot node:crypto hash: no concatenation,
// no per-voucher encoder.

import { hash } from 'node:crypto';
import { isU64 } from './bytes.js';
import { fail, ok, type Result } from './errors.js';
import { tag } from './hash.js';
import { runDecoder } from './reader.js';
import { ByteWriter } from './writer.js';

export const VOUCHER_SIZE = 96;

export interface Voucher {
  channelId: Uint8Array;
  seq: bigint;
  cumUnits: bigint;
  cumAmount: bigint;
  deviceTimeMs: bigint;
  prevHash: Uint8Array;
}

/** Where a chain stands: the last voucher's seq, hash and cumulative totals [P-4.3, P-4.5]. */
export interface Head {
  seq: bigint;
  hash: Uint8Array;
  cumUnits: bigint;
  cumAmount: bigint;
}

/** The head before voucher 1: seq 0, hash = channelId, nothing carried yet [P-4.3]. */
export function genesisHead(channelId: Uint8Array): Head {
  return { seq: 0n, hash: channelId, cumUnits: 0n, cumAmount: 0n };
}

/** The 96 bytes of a voucher [P-4.1]. Throws a TypeError on out-of-range fields. */
export function encodeVoucher(v: Voucher): Uint8Array {
  return new ByteWriter(VOUCHER_SIZE)
    .fixed(v.channelId, 32, 'channelId')
    .u64(v.seq, 'seq')
    .u64(v.cumUnits, 'cumUnits')
    .u64(v.cumAmount, 'cumAmount')
    .u64(v.deviceTimeMs, 'deviceTimeMs')
    .fixed(v.prevHash, 32, 'prevHash')
    .finish();
}

/** Exactly 96 bytes; seq counts from 1 [P-4.1]. Chain rules need context: see verifySegment. */
export function decodeVoucher(bytes: Uint8Array): Result<Voucher> {
  return runDecoder(bytes, (r) => {
    const v: Voucher = {
      channelId: r.fixed(32, 'channelId'),
      seq: r.u64('seq'),
      cumUnits: r.u64('cumUnits'),
      cumAmount: r.u64('cumAmount'),
      deviceTimeMs: r.u64('deviceTimeMs'),
      prevHash: r.fixed(32, 'prevHash'),
    };
    r.check(v.seq >= 1n, 'seq must be >= 1');
    r.end();
    return v;
  });
}

const VOUCHER_TAG = tag('voucher');
const T = VOUCHER_TAG.length;

function digest(input: Uint8Array): Uint8Array {
  const out = hash('sha256', input, 'buffer');
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** voucherHash = H(tag("voucher") || voucher) [P-4.2], from the voucher or its 96 bytes. */
export function voucherHash(v: Voucher | Uint8Array): Uint8Array {
  const bytes = v instanceof Uint8Array ? v : encodeVoucher(v);
  if (bytes.length !== VOUCHER_SIZE) throw new TypeError(`a voucher is ${VOUCHER_SIZE} bytes`);
  const input = new Uint8Array(T + VOUCHER_SIZE);
  input.set(VOUCHER_TAG);
  input.set(bytes, T);
  return digest(input);
}

/**
 * Hashes consecutive vouchers of one channel into one reusable buffer holding
 * `tag || channelId || seq || cumUnits || cumAmount || deviceTimeMs || prevHash`: the tag and the
 * channel id are written once, then 4 u64 writes and a 32-byte copy per voucher. Callers have
 * already range-checked the values (u64), which is why this never allocates beyond the digest.
 */
export class ChainHasher {
  private readonly buffer = new Uint8Array(T + VOUCHER_SIZE);
  private readonly view = new DataView(this.buffer.buffer);

  constructor(channelId: Uint8Array) {
    this.buffer.set(VOUCHER_TAG);
    this.buffer.set(channelId, T);
  }

  hash(seq: bigint, cumUnits: bigint, cumAmount: bigint, deviceTimeMs: bigint, prevHash: Uint8Array): Uint8Array {
    const view = this.view;
    view.setBigUint64(T + 32, seq);
    view.setBigUint64(T + 40, cumUnits);
    view.setBigUint64(T + 48, cumAmount);
    view.setBigUint64(T + 56, deviceTimeMs);
    this.buffer.set(prevHash, T + 64);
    return digest(this.buffer);
  }
}

/** One voucher against its predecessor and the channel's price and capacity [P-4.3]. */
export type VoucherRuleCode =
  'UNITS_NOT_INCREASING' | 'AMOUNT_DECREASED' | 'U64_OVERFLOW' | 'AMOUNT_PRICE_MISMATCH' | 'OVER_CAPACITY';

/**
 * The value rules of [P-4.3] in their order (seq and link are implicit in a segment and checked
 * by the caller). Returns undefined when the voucher may follow `prev`. Allocation-free.
 */
export function voucherRuleViolation(
  prevCumUnits: bigint,
  prevCumAmount: bigint,
  cumUnits: bigint,
  cumAmount: bigint,
  pricePerUnit: bigint,
  capacity: bigint,
): VoucherRuleCode | undefined {
  if (cumUnits <= prevCumUnits) return 'UNITS_NOT_INCREASING';
  if (cumAmount < prevCumAmount) return 'AMOUNT_DECREASED';
  const expected = cumUnits * pricePerUnit;
  if (!isU64(expected)) return 'U64_OVERFLOW';
  if (cumAmount !== expected) return 'AMOUNT_PRICE_MISMATCH';
  if (cumAmount > capacity) return 'OVER_CAPACITY';
  return undefined;
}

/** A Result form of voucherRuleViolation for callers outside the segment hot path. */
export function checkVoucherRules(
  prev: Pick<Head, 'cumUnits' | 'cumAmount'>,
  v: Pick<Voucher, 'cumUnits' | 'cumAmount'>,
  pricePerUnit: bigint,
  capacity: bigint,
): Result<true> {
  const code = voucherRuleViolation(prev.cumUnits, prev.cumAmount, v.cumUnits, v.cumAmount, pricePerUnit, capacity);
  return code === undefined ? ok(true) : fail(code);
}
