// One entry of a settlement bundle against its evidence [P-8.5 checks 9-33], in the order of the
// spec's list; each failed check is reported with its item number. The entry is settled money, so
// every value is re-derived: the channel from its record, the head and the previous head from the
// vouchers the device signed, the amounts from the price.

import { bytesEqual, isU64, toHex } from './bytes.js';
import { channelIdOf, decodeChannelRecord, type ChannelRecord } from './channel.js';
import type { Ed25519Backend } from './crypto/index.js';
import { isObject, onlyKeys, parseHex, parseProof, type Report } from './bundle-fields.js';
import { verifyMerkleProof } from './merkle.js';
import { verifySegmentSignature } from './segment.js';
import { decodeEntry, type EpochRecord, type SettlementEntry } from './settlement.js';
import { decodeVoucher, voucherHash } from './voucher.js';

/** What a verified entry proves, for the bundle summary and for checks across bundles [P-8.6]. */
export interface BundleChannelSummary {
  channelId: string;
  index: number;
  unit: string;
  /** From a version-2 channel record [P-3.1]: what the amounts are in. Absent for version 1. */
  currency?: string;
  exponent?: number;
  pricePerUnit: bigint;
  fromSeq: bigint;
  toSeq: bigint;
  deltaUnits: bigint;
  deltaAmount: bigint;
  cumUnits: bigint;
  cumAmount: bigint;
  /** voucherHash(toSeq), lowercase hex. */
  headHash: string;
  /** Hash at fromSeq - 1 (the channel id when fromSeq = 1), lowercase hex. */
  prevHeadHash: string;
}

export interface EntryContext {
  /** The epoch record when it decoded and its signature held (checks 4-7); else undefined. */
  epoch: EpochRecord | undefined;
  /** Version 2 and later: the voucher before the span carries the device's signature. */
  prevSigned: boolean;
  entryKeys: readonly string[];
  backend: Ed25519Backend;
}

/** Checks one entry [P-8.5 checks 9-33]; returns its summary when no check failed. */
export function verifyEntry(
  raw: unknown,
  where: string,
  ctx: EntryContext,
  reportFor: (channelId: string | undefined) => Report,
): BundleChannelSummary | undefined {
  let failed = false;
  let report = reportFor(undefined);
  const track =
    (r: Report): Report =>
    (check, code, detail) => {
      failed = true;
      r(check, code, detail);
    };
  report = track(report);

  // 9. shape: only this format's fields, hex where hex is due, a well-formed proof.
  if (!isObject(raw)) return void report(9, 'DECODE_FIELD', `${where} is not an object`);
  onlyKeys(raw, ctx.entryKeys, where, 9, report);
  const hex = (key: string, length?: number) => parseHex(raw[key], `${where}.${key}`, 9, report, length);
  const optionalHex = (key: string, length?: number) => (raw[key] === undefined ? undefined : hex(key, length));
  const entryBytes = hex('entry');
  const recordBytes = hex('channelRecord');
  const headBytes = hex('headVoucher');
  const headSignature = hex('headSignature', 64);
  const prevBytes = optionalHex('prevVoucher');
  const prevSignature = optionalHex('prevSignature', 64);
  const proof = parseProof(raw.proof, `${where}.proof`, 9, report);
  if (!entryBytes || !recordBytes || !headBytes || !headSignature || !proof) return undefined;

  // 10. the entry decodes [P-8.2].
  const decoded = decodeEntry(entryBytes);
  if (!decoded.ok) return void report(10, decoded.code, `${where}.entry: ${decoded.detail ?? 'does not decode'}`);
  const e = decoded.value;
  const channelHex = toHex(e.channelId);
  report = track(reportFor(channelHex));

  // 11-13. the entry belongs to this epoch and is a leaf of its tree [P-8.3].
  const { epoch } = ctx;
  if (epoch !== undefined) {
    if (e.epoch !== epoch.epoch)
      report(11, 'PROOF_INVALID', `entry is for epoch ${e.epoch}, record for ${epoch.epoch}`);
    if (proof.leafCount !== epoch.entryCount)
      report(12, 'PROOF_INVALID', `proof leafCount ${proof.leafCount}, epoch has ${epoch.entryCount}`);
    else if (!verifyMerkleProof(entryBytes, proof, epoch.root))
      report(13, 'PROOF_INVALID', 'inclusion proof does not reach the root');
  }

  const record = checkChannel(recordBytes, e, epoch, report);
  checkHead(headBytes, headSignature, e, record, ctx.backend, report);
  checkSpan(prevBytes, prevSignature, e, record, ctx, report);
  if (record !== undefined) checkPrices(e, record.pricePerUnit, report);

  if (failed || record === undefined) return undefined;
  return {
    channelId: channelHex,
    index: proof.index,
    unit: record.unit,
    ...(record.currency !== undefined ? { currency: record.currency, exponent: record.exponent! } : {}),
    pricePerUnit: record.pricePerUnit,
    fromSeq: e.fromSeq,
    toSeq: e.toSeq,
    deltaUnits: e.deltaUnits,
    deltaAmount: e.deltaAmount,
    cumUnits: e.cumUnits,
    cumAmount: e.cumAmount,
    headHash: toHex(e.headHash),
    prevHeadHash: toHex(e.prevHeadHash),
  };
}

/** 14-16. The record decodes, hashes to the entry's channel id [P-3.2], and names the epoch's hub
 *  and network: a channel opened elsewhere cannot be billed here. */
function checkChannel(
  bytes: Uint8Array,
  e: SettlementEntry,
  epoch: EpochRecord | undefined,
  report: Report,
): ChannelRecord | undefined {
  const record = decodeChannelRecord(bytes);
  if (!record.ok) return void report(14, record.code, `channelRecord: ${record.detail ?? 'does not decode'}`);
  if (!bytesEqual(channelIdOf(bytes), e.channelId))
    report(15, 'WRONG_CHANNEL', 'channel record does not hash to the entry channel id');
  if (epoch !== undefined && (!bytesEqual(record.value.hubKey, epoch.hubKey) || record.value.network !== epoch.network))
    report(16, 'WRONG_CHANNEL', 'channel belongs to another hub or network');
  return record.value;
}

/** 17-21. The head voucher is the entry's head, and the device signed it [P-4.4]. */
function checkHead(
  bytes: Uint8Array,
  signature: Uint8Array,
  e: SettlementEntry,
  record: ChannelRecord | undefined,
  backend: Ed25519Backend,
  report: Report,
): void {
  const head = decodeVoucher(bytes);
  if (!head.ok) return report(17, head.code, `headVoucher: ${head.detail ?? 'does not decode'}`);
  const v = head.value;
  if (!bytesEqual(voucherHash(bytes), e.headHash))
    report(18, 'BAD_LINK', 'head voucher does not hash to the entry head hash');
  if (!bytesEqual(v.channelId, e.channelId)) report(19, 'WRONG_CHANNEL', 'head voucher names another channel');
  if (v.seq !== e.toSeq || v.cumUnits !== e.cumUnits || v.cumAmount !== e.cumAmount)
    report(20, 'PROOF_INVALID', 'head voucher seq or totals differ from the entry');
  if (record !== undefined && !verifySegmentSignature(signature, e.headHash, record.deviceKey, backend))
    report(21, 'SIG_INVALID', 'device signature over the head does not verify');
}

/**
 * 22-32. Where the span starts: genesis for fromSeq = 1, else the voucher at fromSeq - 1, which in
 * version 2 the device signed too, so delta = cum - previous cum rests on the device's signatures.
 */
function checkSpan(
  prevBytes: Uint8Array | undefined,
  prevSignature: Uint8Array | undefined,
  e: SettlementEntry,
  record: ChannelRecord | undefined,
  ctx: EntryContext,
  report: Report,
): void {
  // Every voucher carries at least one unit [P-4.3].
  if (e.deltaUnits < e.toSeq - e.fromSeq + 1n)
    report(22, 'UNITS_NOT_INCREASING', 'fewer units than vouchers in the span');
  if (e.fromSeq === 1n) {
    if (prevBytes !== undefined || prevSignature !== undefined)
      report(23, 'DECODE_FIELD', 'prevVoucher or prevSignature given for a span starting at seq 1');
    if (!bytesEqual(e.prevHeadHash, e.channelId))
      report(24, 'BAD_LINK', 'prevHeadHash of seq 1 must be the channel id');
    if (e.deltaUnits !== e.cumUnits || e.deltaAmount !== e.cumAmount)
      report(25, 'PROOF_INVALID', 'delta is not cum - 0 for a first span');
    return;
  }
  if (prevBytes === undefined) return report(26, 'DECODE_FIELD', 'prevVoucher missing for a span after seq 1');
  if (ctx.prevSigned && prevSignature === undefined)
    return report(26, 'DECODE_FIELD', 'prevSignature missing for a span after seq 1');
  const prev = decodeVoucher(prevBytes);
  if (!prev.ok) return report(27, prev.code, `prevVoucher: ${prev.detail ?? 'does not decode'}`);
  const p = prev.value;
  if (!bytesEqual(voucherHash(prevBytes), e.prevHeadHash))
    report(28, 'BAD_LINK', 'prev voucher does not hash to prevHeadHash');
  if (!bytesEqual(p.channelId, e.channelId)) report(29, 'WRONG_CHANNEL', 'prev voucher names another channel');
  if (p.seq !== e.fromSeq - 1n) report(30, 'PROOF_INVALID', 'prev voucher is not at fromSeq - 1');
  if (
    ctx.prevSigned &&
    record !== undefined &&
    !verifySegmentSignature(prevSignature!, e.prevHeadHash, record.deviceKey, ctx.backend)
  ) {
    report(31, 'SIG_INVALID', 'device signature over the previous head does not verify');
  }
  if (p.cumUnits > e.cumUnits || p.cumAmount > e.cumAmount)
    report(32, 'AMOUNT_DECREASED', 'cumulative totals went down');
  else if (e.cumUnits - p.cumUnits !== e.deltaUnits || e.cumAmount - p.cumAmount !== e.deltaAmount)
    report(32, 'PROOF_INVALID', 'delta is not cum - previous cum');
}

/** 33. Amounts = units x price [P-4.3], for the totals and then the delta; one report at most. */
function checkPrices(e: SettlementEntry, price: bigint, report: Report): void {
  for (const [units, amount, what] of [
    [e.cumUnits, e.cumAmount, 'cumAmount'],
    [e.deltaUnits, e.deltaAmount, 'deltaAmount'],
  ] as const) {
    const expected = units * price;
    if (!isU64(expected)) return report(33, 'U64_OVERFLOW', `${what}: units x price beyond u64`);
    if (expected !== amount) return report(33, 'AMOUNT_PRICE_MISMATCH', `${what} is not units x price`);
  }
}
