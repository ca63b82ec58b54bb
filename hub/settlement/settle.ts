// Closing an epoch [P-8.1..P-8.4]: per channel whose committed head moved since its last
// settlement, one entry (span, delta, cumulative), a Merkle root over the entries and the hub's
// signature over the epoch record chained to the previous root. Everything is written in ONE
// transaction guarded on each channel's settled seq: a crash leaves the old epoch or the new one,
// never half, and settling twice never pays twice (the second sees no delta).

import {
  encodeEntry,
  encodeEpochRecord,
  makeEntry,
  merkleRoot,
  signEpoch,
  sortEntries,
  U64_MAX,
  type EpochRecord,
  type KeyPair,
} from '../../protocol/index.js';
import type { EpochRow, HubStore } from '../store/types.js';
import { epochSettled, type EventSource } from '../model/webhook-events.js';

export interface SettleResult {
  epoch: EpochRow;
  record: EpochRecord;
  /** Settled heads by channel id hex, for the caller's in-memory view. */
  settled: Map<string, { seq: bigint; hash: Uint8Array; cumUnits: bigint; cumAmount: bigint }>;
}

export async function closeEpoch(args: {
  store: HubStore;
  hubKey: KeyPair;
  network: string;
  nowMs: bigint;
  /** Periodic settlement skips an epoch with nothing in it; on demand always closes one. */
  skipEmpty?: boolean;
  /** Write epoch.settled (webhooks) in the epoch's transaction. */
  events?: EventSource;
}): Promise<SettleResult | undefined> {
  const { store, hubKey, network, nowMs } = args;
  const last = await store.lastEpoch();
  const epoch = last ? last.epoch + 1n : 1n;
  // The committed heads in the database, not the hub's live view: only durable vouchers settle.
  const moved = (await store.listChannels()).filter((c) => c.head.seq > c.settled.seq);
  if (moved.length === 0 && args.skipEmpty) return undefined;

  const entries = sortEntries(moved.map((c) => makeEntry(epoch, c.channelId, c.settled, c.head)));
  const leaves = entries.map(encodeEntry);
  let total = 0n;
  for (const e of entries) total += e.deltaAmount;
  if (total > U64_MAX) throw new Error('epoch total above u64: settle more often');
  const record: EpochRecord = {
    network,
    hubKey: hubKey.publicKey,
    epoch,
    closedAtMs: nowMs,
    entryCount: entries.length,
    totalDeltaAmount: total,
    prevRoot: last ? last.root : new Uint8Array(32),
    root: merkleRoot(leaves),
  };
  const recordBytes = encodeEpochRecord(record);
  const row: EpochRow = {
    epoch,
    closedAtMs: nowMs,
    record: recordBytes,
    signature: signEpoch(recordBytes, hubKey.secretKey),
    root: record.root,
    entryCount: entries.length,
    totalDeltaAmount: total,
  };
  const byId = new Map(moved.map((c) => [Buffer.from(c.channelId).toString('hex'), c]));
  const settled = new Map<string, { seq: bigint; hash: Uint8Array; cumUnits: bigint; cumAmount: bigint }>();
  await store.closeEpoch({
    epoch: row,
    entries: entries.map((e, i) => ({ epoch, channelId: e.channelId, entry: leaves[i]!, toSeq: e.toSeq })),
    settled: entries.map((e) => {
      const c = byId.get(Buffer.from(e.channelId).toString('hex'))!;
      settled.set(Buffer.from(e.channelId).toString('hex'), c.head);
      return { channelId: e.channelId, expectedSettledSeq: c.settled.seq, head: c.head };
    }),
    ...(args.events ? { events: [epochSettled(args.events, row, entries)] } : {}),
  });
  return { epoch: row, record, settled };
}
