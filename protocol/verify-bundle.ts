// Offline verification of a settlement bundle [P-8.5]. The input is untrusted JSON (or its text):
// every field is shape-checked before use, every value is re-derived from the bytes that were
// hashed or signed, and every failure is reported (not only the first) with its reason code and
// the channel it concerns. It never throws.

import { bytesEqual, fromHex, isU64, toHex } from './bytes.js';
import { BUNDLE_FORMAT } from './bundle.js';
import { channelIdOf, decodeChannelRecord, type ChannelRecord } from './channel.js';
import { defaultBackend, type Ed25519Backend } from './crypto/index.js';
import type { ReasonCode } from './errors.js';
import { MAX_LEAVES, verifyMerkleProof, type MerkleProof } from './merkle.js';
import {
  compareChannelIds,
  decodeEntry,
  decodeEpochRecord,
  verifyEpoch,
  type EpochRecord,
  type SettlementEntry,
} from './settlement.js';
import { verifySegmentSignature } from './segment.js';
import { decodeVoucher, voucherHash } from './voucher.js';

export interface BundleReason {
  code: ReasonCode;
  detail: string;
  /** Lowercase hex of the channel the reason concerns, when known. */
  channelId?: string;
}

export interface BundleChannelSummary {
  channelId: string;
  index: number;
  unit: string;
  pricePerUnit: bigint;
  fromSeq: bigint;
  toSeq: bigint;
  deltaUnits: bigint;
  deltaAmount: bigint;
  cumUnits: bigint;
  cumAmount: bigint;
}

export interface BundleSummary {
  network: string;
  hubKey: string;
  epoch: bigint;
  closedAtMs: bigint;
  entryCount: number;
  totalDeltaAmount: bigint;
  prevRoot: string;
  root: string;
  /** True when the bundle carries every entry of the epoch. */
  complete: boolean;
  channels: BundleChannelSummary[];
}

export type BundleVerdict = { ok: true; summary: BundleSummary } | { ok: false; reasons: BundleReason[] };

type Report = (code: ReasonCode, detail: string) => void;
type JsonObject = Record<string, unknown>;

const LOWER_HEX = /^[0-9a-f]*$/;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Rejects keys this format does not define: an unverified field must not ride along. */
function onlyKeys(obj: JsonObject, allowed: readonly string[], where: string, report: Report): void {
  for (const key of Object.keys(obj))
    if (!allowed.includes(key)) report('DECODE_FIELD', `${where}: unknown field ${key}`);
}

/** Lowercase hex of an exact (or any, when length is undefined) byte length; reports otherwise. */
function parseHex(value: unknown, where: string, report: Report, length?: number): Uint8Array | undefined {
  const bytes = typeof value === 'string' && LOWER_HEX.test(value) ? fromHex(value) : undefined;
  if (bytes === undefined || (length !== undefined && bytes.length !== length)) {
    report('DECODE_FIELD', `${where} is not lowercase hex${length === undefined ? '' : ` of ${length} bytes`}`);
    return undefined;
  }
  return bytes;
}

const hexField = (obj: JsonObject, key: string, where: string, report: Report, length?: number) =>
  parseHex(obj[key], `${where}.${key}`, report, length);

function proofField(obj: JsonObject, where: string, report: Report): MerkleProof | undefined {
  const proof = obj.proof;
  if (!isObject(proof)) return void report('DECODE_FIELD', `${where}.proof is not an object`);
  onlyKeys(proof, ['index', 'leafCount', 'siblings'], `${where}.proof`, report);
  const { index, leafCount, siblings } = proof;
  const isCount = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_LEAVES;
  if (!isCount(index) || !isCount(leafCount))
    return void report('DECODE_FIELD', `${where}.proof index and leafCount are u32`);
  if (!Array.isArray(siblings) || siblings.length > 32) return void report('DECODE_FIELD', `${where}.proof.siblings`);
  const parsed = siblings.map((s: unknown, i) => parseHex(s, `${where}.proof.siblings[${i}]`, report, 32));
  if (parsed.some((s) => s === undefined)) return undefined;
  return { index, leafCount, siblings: parsed as Uint8Array[] };
}

const ENTRY_KEYS = ['entry', 'channelRecord', 'headVoucher', 'headSignature', 'prevVoucher', 'proof'];

/** Checks one entry against its evidence [P-8.5]; returns its summary when it holds up. */
function verifyEntry(
  raw: unknown,
  where: string,
  epoch: EpochRecord | undefined,
  backend: Ed25519Backend,
  reasons: BundleReason[],
): BundleChannelSummary | undefined {
  const before = reasons.length;
  let channelHex: string | undefined;
  const report: Report = (code, detail) =>
    reasons.push(channelHex === undefined ? { code, detail } : { code, detail, channelId: channelHex });
  if (!isObject(raw)) return void report('DECODE_FIELD', `${where} is not an object`);
  onlyKeys(raw, ENTRY_KEYS, where, report);
  const entryBytes = hexField(raw, 'entry', where, report);
  const recordBytes = hexField(raw, 'channelRecord', where, report);
  const headBytes = hexField(raw, 'headVoucher', where, report);
  const headSignature = hexField(raw, 'headSignature', where, report, 64);
  const prevBytes = raw.prevVoucher === undefined ? undefined : hexField(raw, 'prevVoucher', where, report);
  const proof = proofField(raw, where, report);
  if (!entryBytes || !recordBytes || !headBytes || !headSignature || !proof) return undefined;

  const decoded = decodeEntry(entryBytes);
  if (!decoded.ok) return void report(decoded.code, `${where}.entry: ${decoded.detail ?? 'does not decode'}`);
  const e = decoded.value;
  channelHex = toHex(e.channelId);

  if (epoch !== undefined) {
    if (e.epoch !== epoch.epoch) report('PROOF_INVALID', `entry is for epoch ${e.epoch}, record for ${epoch.epoch}`);
    if (proof.leafCount !== epoch.entryCount)
      report('PROOF_INVALID', `proof leafCount ${proof.leafCount}, epoch has ${epoch.entryCount}`);
    else if (!verifyMerkleProof(entryBytes, proof, epoch.root))
      report('PROOF_INVALID', 'inclusion proof does not reach the root');
  }

  const record = checkChannel(recordBytes, e, epoch, report);
  checkHead(headBytes, headSignature, e, record, backend, report);
  checkSpan(prevBytes, e, report);
  if (record !== undefined) checkPrices(e, record.pricePerUnit, report);

  if (reasons.length !== before || record === undefined) return undefined;
  return {
    channelId: channelHex,
    index: proof.index,
    unit: record.unit,
    pricePerUnit: record.pricePerUnit,
    fromSeq: e.fromSeq,
    toSeq: e.toSeq,
    deltaUnits: e.deltaUnits,
    deltaAmount: e.deltaAmount,
    cumUnits: e.cumUnits,
    cumAmount: e.cumAmount,
  };
}

/** Opening record -> channel id [P-3.2], and the channel belongs to the epoch's hub and network. */
function checkChannel(
  bytes: Uint8Array,
  e: SettlementEntry,
  epoch: EpochRecord | undefined,
  report: Report,
): ChannelRecord | undefined {
  const record = decodeChannelRecord(bytes);
  if (!record.ok) return void report(record.code, `channelRecord: ${record.detail ?? 'does not decode'}`);
  if (!bytesEqual(channelIdOf(bytes), e.channelId))
    report('WRONG_CHANNEL', 'channel record does not hash to the entry channel id');
  if (
    epoch !== undefined &&
    (!bytesEqual(record.value.hubKey, epoch.hubKey) || record.value.network !== epoch.network)
  ) {
    report('WRONG_CHANNEL', 'channel belongs to another hub or network');
  }
  return record.value;
}

/** Head voucher hash = entry head hash, its values = the entry's, and the device signed it [P-4.4]. */
function checkHead(
  bytes: Uint8Array,
  signature: Uint8Array,
  e: SettlementEntry,
  record: ChannelRecord | undefined,
  backend: Ed25519Backend,
  report: Report,
): void {
  const head = decodeVoucher(bytes);
  if (!head.ok) return report(head.code, `headVoucher: ${head.detail ?? 'does not decode'}`);
  const v = head.value;
  if (!bytesEqual(voucherHash(bytes), e.headHash))
    report('BAD_LINK', 'head voucher does not hash to the entry head hash');
  if (!bytesEqual(v.channelId, e.channelId)) report('WRONG_CHANNEL', 'head voucher names another channel');
  if (v.seq !== e.toSeq || v.cumUnits !== e.cumUnits || v.cumAmount !== e.cumAmount) {
    report('PROOF_INVALID', 'head voucher seq or totals differ from the entry');
  }
  if (record !== undefined && !verifySegmentSignature(signature, e.headHash, record.deviceKey, backend)) {
    report('SIG_INVALID', 'device signature over the head does not verify');
  }
}

/** delta = cum - previous cum [P-8.5], the previous head being genesis or the voucher at fromSeq - 1. */
function checkSpan(prevBytes: Uint8Array | undefined, e: SettlementEntry, report: Report): void {
  if (e.deltaUnits < e.toSeq - e.fromSeq + 1n) report('UNITS_NOT_INCREASING', 'fewer units than vouchers in the span');
  if (e.fromSeq === 1n) {
    if (prevBytes !== undefined) report('DECODE_FIELD', 'prevVoucher given for a span starting at seq 1');
    if (!bytesEqual(e.prevHeadHash, e.channelId)) report('BAD_LINK', 'prevHeadHash of seq 1 must be the channel id');
    if (e.deltaUnits !== e.cumUnits || e.deltaAmount !== e.cumAmount)
      report('PROOF_INVALID', 'delta is not cum - 0 for a first span');
    return;
  }
  if (prevBytes === undefined) return report('DECODE_FIELD', 'prevVoucher missing for a span after seq 1');
  const prev = decodeVoucher(prevBytes);
  if (!prev.ok) return report(prev.code, `prevVoucher: ${prev.detail ?? 'does not decode'}`);
  const p = prev.value;
  if (!bytesEqual(voucherHash(prevBytes), e.prevHeadHash))
    report('BAD_LINK', 'prev voucher does not hash to prevHeadHash');
  if (!bytesEqual(p.channelId, e.channelId)) report('WRONG_CHANNEL', 'prev voucher names another channel');
  if (p.seq !== e.fromSeq - 1n) report('PROOF_INVALID', 'prev voucher is not at fromSeq - 1');
  if (p.cumUnits > e.cumUnits || p.cumAmount > e.cumAmount) report('AMOUNT_DECREASED', 'cumulative totals went down');
  else if (e.cumUnits - p.cumUnits !== e.deltaUnits || e.cumAmount - p.cumAmount !== e.deltaAmount) {
    report('PROOF_INVALID', 'delta is not cum - previous cum');
  }
}

/** Amounts = units x price, for the totals and the deltas [P-4.3, P-8.5]. */
function checkPrices(e: SettlementEntry, price: bigint, report: Report): void {
  for (const [units, amount, what] of [
    [e.cumUnits, e.cumAmount, 'cumAmount'],
    [e.deltaUnits, e.deltaAmount, 'deltaAmount'],
  ] as const) {
    const expected = units * price;
    if (!isU64(expected)) report('U64_OVERFLOW', `${what}: units x price beyond u64`);
    else if (expected !== amount) report('AMOUNT_PRICE_MISMATCH', `${what} is not units x price`);
  }
}

/**
 * Verifies a settlement bundle (the parsed JSON or its text) with nothing but itself [P-8.5].
 * `hubKey`, when given, must be the key that signed the epoch. Returns every reason it finds.
 */
export function verifyBundle(
  json: unknown,
  options: { hubKey?: Uint8Array; backend?: Ed25519Backend } = {},
): BundleVerdict {
  const backend = options.backend ?? defaultBackend;
  const reasons: BundleReason[] = [];
  const report: Report = (code, detail) => reasons.push({ code, detail });
  const failed = (): BundleVerdict => ({ ok: false, reasons });

  let doc = json;
  if (typeof json === 'string') {
    try {
      doc = JSON.parse(json) as unknown;
    } catch {
      report('DECODE_FIELD', 'bundle is not JSON');
      return failed();
    }
  }
  if (!isObject(doc)) {
    report('DECODE_FIELD', 'bundle is not a JSON object');
    return failed();
  }
  onlyKeys(doc, ['format', 'epoch', 'entries'], 'bundle', report);
  if (doc.format !== BUNDLE_FORMAT) report('DECODE_VERSION', `format is not ${BUNDLE_FORMAT}`);
  if (!isObject(doc.epoch)) report('DECODE_FIELD', 'epoch is not an object');
  if (!Array.isArray(doc.entries)) report('DECODE_FIELD', 'entries is not an array');
  if (!isObject(doc.epoch) || !Array.isArray(doc.entries)) return failed();

  const epoch = checkEpoch(doc.epoch, options.hubKey, backend, report);
  const entries = doc.entries as unknown[];
  if (epoch !== undefined && entries.length > epoch.entryCount) {
    report('PROOF_INVALID', `${entries.length} entries, epoch has ${epoch.entryCount}`);
  }
  const channels: BundleChannelSummary[] = [];
  entries.forEach((raw, i) => {
    const summary = verifyEntry(raw, `entries[${i}]`, epoch, backend, reasons);
    if (summary !== undefined) channels.push(summary);
  });
  if (epoch === undefined || reasons.length > 0) return failed();

  // Leaves are sorted by channel id [P-8.3]: in index order, channel ids strictly increase.
  channels.sort((a, b) => a.index - b.index);
  for (let i = 1; i < channels.length; i++) {
    const [a, b] = [channels[i - 1]!, channels[i]!];
    if (a.index === b.index || compareChannelIds(fromHex(a.channelId)!, fromHex(b.channelId)!) >= 0) {
      report('PROOF_INVALID', `entries at ${a.index} and ${b.index} are duplicated or out of channel order`);
    }
  }
  const complete = channels.length === epoch.entryCount;
  if (complete) {
    const total = channels.reduce((sum, c) => sum + c.deltaAmount, 0n);
    if (total !== epoch.totalDeltaAmount)
      report('PROOF_INVALID', `entries sum to ${total}, record says ${epoch.totalDeltaAmount}`);
  }
  if (reasons.length > 0) return failed();
  return {
    ok: true,
    summary: {
      network: epoch.network,
      hubKey: toHex(epoch.hubKey),
      epoch: epoch.epoch,
      closedAtMs: epoch.closedAtMs,
      entryCount: epoch.entryCount,
      totalDeltaAmount: epoch.totalDeltaAmount,
      prevRoot: toHex(epoch.prevRoot),
      root: toHex(epoch.root),
      complete,
      channels,
    },
  };
}

/** Epoch record decodes and the hub signed it (with `hubKey`, when the caller expects one) [P-8.4]. */
function checkEpoch(
  raw: JsonObject,
  hubKey: Uint8Array | undefined,
  backend: Ed25519Backend,
  report: Report,
): EpochRecord | undefined {
  onlyKeys(raw, ['record', 'signature'], 'epoch', report);
  const bytes = hexField(raw, 'record', 'epoch', report);
  const signature = hexField(raw, 'signature', 'epoch', report, 64);
  if (bytes === undefined || signature === undefined) return undefined;
  const record = decodeEpochRecord(bytes);
  if (!record.ok) return void report(record.code, `epoch.record: ${record.detail ?? 'does not decode'}`);
  if (hubKey !== undefined && !bytesEqual(record.value.hubKey, hubKey))
    report('SIG_INVALID', 'epoch signed by another hub key');
  if (!verifyEpoch(bytes, signature, record.value.hubKey, backend))
    return void report('SIG_INVALID', 'hub signature over the epoch record');
  return record.value;
}
