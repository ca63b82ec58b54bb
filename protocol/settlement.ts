// Settlement entries and the signed epoch record [P-8.2, P-8.4]. An entry is one channel's span of
// seqs in one epoch; the epoch record commits to the Merkle root of the epoch's entries and to the
// previous root, so the hub's settlements form a chain it cannot quietly rewrite.

import { concatBytes } from './bytes.js';
import { NETWORK_MAX, NETWORK_PATTERN } from './channel.js';
import { defaultBackend, type Ed25519Backend } from './crypto/index.js';
import type { Result } from './errors.js';
import { tag } from './hash.js';
import { runDecoder } from './reader.js';
import type { Head } from './voucher.js';
import { ByteWriter, stringSize } from './writer.js';

export const SETTLEMENT_VERSION = 1;
export const ENTRY_SIZE = 153;

export interface SettlementEntry {
  epoch: bigint;
  channelId: Uint8Array;
  /** First seq of the span: previous settled seq + 1. */
  fromSeq: bigint;
  /** Head seq, always the head of a signed segment. */
  toSeq: bigint;
  deltaUnits: bigint;
  deltaAmount: bigint;
  cumUnits: bigint;
  cumAmount: bigint;
  /** voucherHash(toSeq). */
  headHash: Uint8Array;
  /** Hash at fromSeq - 1 (the channel id when fromSeq = 1). */
  prevHeadHash: Uint8Array;
}

/** The span rules an entry always satisfies; undefined when they hold. */
function entryProblem(e: SettlementEntry): string | undefined {
  if (e.fromSeq < 1n) return 'fromSeq must be >= 1';
  if (e.toSeq < e.fromSeq) return 'toSeq must be >= fromSeq';
  if (e.deltaUnits > e.cumUnits || e.deltaAmount > e.cumAmount) return 'delta above cumulative total';
  return undefined;
}

/**
 * The entry for a channel whose settled head was `settled` and whose accepted (signed) head is now
 * `head` [P-8.2]. Throws a TypeError when the head has not advanced (nothing to settle).
 */
export function makeEntry(epoch: bigint, channelId: Uint8Array, settled: Head, head: Head): SettlementEntry {
  if (head.seq <= settled.seq || head.cumUnits < settled.cumUnits || head.cumAmount < settled.cumAmount) {
    throw new TypeError('a settlement entry needs a head beyond the settled one');
  }
  return {
    epoch,
    channelId,
    fromSeq: settled.seq + 1n,
    toSeq: head.seq,
    deltaUnits: head.cumUnits - settled.cumUnits,
    deltaAmount: head.cumAmount - settled.cumAmount,
    cumUnits: head.cumUnits,
    cumAmount: head.cumAmount,
    headHash: head.hash,
    prevHeadHash: settled.hash,
  };
}

/** The 153 bytes of an entry [P-8.2]. Throws a TypeError on an invalid entry. */
export function encodeEntry(e: SettlementEntry): Uint8Array {
  const bytes = new ByteWriter(ENTRY_SIZE)
    .u8(SETTLEMENT_VERSION, 'version')
    .u64(e.epoch, 'epoch')
    .fixed(e.channelId, 32, 'channelId')
    .u64(e.fromSeq, 'fromSeq')
    .u64(e.toSeq, 'toSeq')
    .u64(e.deltaUnits, 'deltaUnits')
    .u64(e.deltaAmount, 'deltaAmount')
    .u64(e.cumUnits, 'cumUnits')
    .u64(e.cumAmount, 'cumAmount')
    .fixed(e.headHash, 32, 'headHash')
    .fixed(e.prevHeadHash, 32, 'prevHeadHash')
    .finish();
  const problem = entryProblem(e);
  if (problem !== undefined) throw new TypeError(`invalid settlement entry: ${problem}`);
  return bytes;
}

/** Decodes an entry [P-8.2]: exactly 153 bytes, version 1, a sane span (DECODE_FIELD). */
export function decodeEntry(bytes: Uint8Array): Result<SettlementEntry> {
  return runDecoder(bytes, (r) => {
    const version = r.u8('version');
    if (version !== SETTLEMENT_VERSION) r.stop('DECODE_VERSION', `entry version ${version}`);
    const e: SettlementEntry = {
      epoch: r.u64('epoch'),
      channelId: r.fixed(32, 'channelId'),
      fromSeq: r.u64('fromSeq'),
      toSeq: r.u64('toSeq'),
      deltaUnits: r.u64('deltaUnits'),
      deltaAmount: r.u64('deltaAmount'),
      cumUnits: r.u64('cumUnits'),
      cumAmount: r.u64('cumAmount'),
      headHash: r.fixed(32, 'headHash'),
      prevHeadHash: r.fixed(32, 'prevHeadHash'),
    };
    const problem = entryProblem(e);
    r.check(problem === undefined, problem ?? '');
    r.end();
    return e;
  });
}

/** Byte order of channel ids: the order of the leaves of an epoch's tree [P-8.3]. */
export function compareChannelIds(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Entries in tree order (by channel id); returns a new array. */
export function sortEntries(entries: readonly SettlementEntry[]): SettlementEntry[] {
  return [...entries].sort((a, b) => compareChannelIds(a.channelId, b.channelId));
}

export interface EpochRecord {
  network: string;
  hubKey: Uint8Array;
  epoch: bigint;
  closedAtMs: bigint;
  /** Number of entries (leaves), u32. */
  entryCount: number;
  totalDeltaAmount: bigint;
  /** Root of the previous epoch; zeros for the first. */
  prevRoot: Uint8Array;
  root: Uint8Array;
}

/** The canonical epoch record [P-8.4]. Throws a TypeError on an invalid record. */
export function encodeEpochRecord(e: EpochRecord): Uint8Array {
  if (typeof e.network !== 'string' || !NETWORK_PATTERN.test(e.network)) throw new TypeError('invalid network name');
  return new ByteWriter(1 + stringSize(e.network) + 32 + 8 + 8 + 4 + 8 + 32 + 32)
    .u8(SETTLEMENT_VERSION, 'version')
    .string(e.network, 'network')
    .fixed(e.hubKey, 32, 'hubKey')
    .u64(e.epoch, 'epoch')
    .u64(e.closedAtMs, 'closedAtMs')
    .u32(e.entryCount, 'entryCount')
    .u64(e.totalDeltaAmount, 'totalDeltaAmount')
    .fixed(e.prevRoot, 32, 'prevRoot')
    .fixed(e.root, 32, 'root')
    .finish();
}

export function decodeEpochRecord(bytes: Uint8Array): Result<EpochRecord> {
  return runDecoder(bytes, (r) => {
    const version = r.u8('version');
    if (version !== SETTLEMENT_VERSION) r.stop('DECODE_VERSION', `epoch record version ${version}`);
    const record: EpochRecord = {
      network: r.string(1, NETWORK_MAX, NETWORK_PATTERN, 'network'),
      hubKey: r.fixed(32, 'hubKey'),
      epoch: r.u64('epoch'),
      closedAtMs: r.u64('closedAtMs'),
      entryCount: r.u32('entryCount'),
      totalDeltaAmount: r.u64('totalDeltaAmount'),
      prevRoot: r.fixed(32, 'prevRoot'),
      root: r.fixed(32, 'root'),
    };
    r.end();
    return record;
  });
}

const EPOCH_TAG = tag('epoch');

/** signature = Ed25519(hubKey, tag("epoch") || record) [P-8.4]. */
export function signEpoch(
  record: EpochRecord | Uint8Array,
  hubSecretKey: Uint8Array,
  backend: Ed25519Backend = defaultBackend,
): Uint8Array {
  const bytes = record instanceof Uint8Array ? record : encodeEpochRecord(record);
  return backend.sign(concatBytes(EPOCH_TAG, bytes), hubSecretKey);
}

/** The hub's signature over an epoch record, as a record or its exact bytes. Never throws. */
export function verifyEpoch(
  record: EpochRecord | Uint8Array,
  signature: Uint8Array,
  hubKey: Uint8Array,
  backend: Ed25519Backend = defaultBackend,
): boolean {
  let bytes: Uint8Array;
  try {
    bytes = record instanceof Uint8Array ? record : encodeEpochRecord(record);
  } catch {
    return false;
  }
  return backend.verify(signature, concatBytes(EPOCH_TAG, bytes), hubKey);
}
