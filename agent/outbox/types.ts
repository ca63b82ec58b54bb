// The agent's durable outbox behind a small interface, so that the CLI (one SQLite file per
// device), the fleet simulator (many devices sharing one database) and any future store run the
// same contract suite (test/agent/outbox.contract.ts).
import type { Head } from '../../protocol/index.js';

export type ChannelState = 'open' | 'exhausted' | 'closed' | 'revoked';

/** Largest value a voucher row can hold: SQLite integers are signed 64-bit. Every store keeps to
 *  it, so the chain builder (chain.ts, pure) bounds totals by it without loading SQLite. */
export const SQLITE_INT_MAX = (1n << 63n) - 1n;

/** Counter state that produced the committed vouchers: readings up to `baseline` are accounted for,
 *  and `carried` units were metered but not vouchered yet (no channel, exhausted, backlog full).
 *  A meter with fractional readings (kWh into Wh) also has billionths of a unit (0..999,999,999):
 *  the last reading's fraction, and the metered remainder that is not a whole unit yet. Absent
 *  means zero, so a whole-number meter's state is exactly `{ baseline, carried }`. */
export interface MeterState {
  readonly baseline: bigint | undefined;
  readonly carried: bigint;
  readonly baselineNanos?: bigint;
  readonly carriedNanos?: bigint;
}

/** What the agent last said about its meter's readings (docs/agent.md, "Stale and frozen"). */
export interface MeterHealthRecord {
  readonly state: 'ok' | 'stale' | 'frozen';
  /** Since when (ms since the epoch, agent clock). */
  readonly sinceMs: number;
  readonly detail?: string;
}

export interface StoredChannel {
  readonly channelId: Uint8Array;
  /** Canonical opening record bytes [P-3.1]. */
  readonly record: Uint8Array;
  readonly capacity: bigint;
  readonly state: ChannelState;
  /** The device's own latest committed voucher (the genesis head before the first). */
  readonly head: Head;
}

export interface StoredReceipt {
  readonly channelId: Uint8Array;
  readonly seq: bigint;
  readonly headHash: Uint8Array;
  readonly cumUnits: bigint;
  readonly cumAmount: bigint;
  /** The hub-signed receipt exactly as received [P-5.1]: the device's proof. */
  readonly bytes: Uint8Array;
}

export interface NewVoucher {
  readonly seq: bigint;
  readonly cumUnits: bigint;
  readonly cumAmount: bigint;
  readonly deviceTimeMs: bigint;
  readonly hash: Uint8Array;
}

export interface NewSegment {
  readonly firstSeq: bigint;
  readonly lastSeq: bigint;
  readonly prevHash: Uint8Array;
  readonly signature: Uint8Array;
}

/** Everything one flush produces, committed in one transaction before anything is published. */
export interface FlushRecord {
  readonly channelId: Uint8Array;
  readonly vouchers: readonly NewVoucher[];
  readonly segments: readonly NewSegment[];
  readonly head: Head;
  readonly meter: MeterState;
}

/** A segment ready to encode: all of a stored segment, or its tail after a given seq. */
export interface OutgoingSegment {
  readonly channelId: Uint8Array;
  readonly firstSeq: bigint;
  readonly lastSeq: bigint;
  readonly prevHash: Uint8Array;
  readonly vouchers: { cumUnits: bigint; cumAmount: bigint; deviceTimeMs: bigint }[];
  readonly signature: Uint8Array;
}

export interface OutboxSnapshot {
  readonly meter: MeterState;
  /** Absent until the agent first reported on its meter. */
  readonly meterHealth?: MeterHealthRecord;
  readonly channel: StoredChannel | undefined;
  readonly receipt: StoredReceipt | undefined;
}

export interface OutboxStore {
  readonly deviceHex: string;
  /** The committed state of this device. */
  load(): OutboxSnapshot;
  /** Makes `channel` the device's current channel. A channel seen before keeps its head; a new
   *  one starts at `head` (the genesis head, or the hub's head for a restored device). */
  saveChannel(
    channel: { channelId: Uint8Array; record: Uint8Array; capacity: bigint; state: ChannelState },
    head: Head,
  ): StoredChannel;
  setChannelLimits(channelId: Uint8Array, capacity: bigint, state: ChannelState): void;
  /** Moves the head of a channel forward to the hub's head, dropping any voucher at or below it
   *  (a device restored from an old copy of its outbox). */
  adoptHead(channelId: Uint8Array, head: Head): void;
  saveMeter(meter: MeterState): void;
  /** Keeps what `tally-agent status` shows about the meter (written only when it changes). */
  saveMeterHealth(health: MeterHealthRecord): void;
  /** Vouchers, segments, head and meter state in ONE transaction. */
  commit(flush: FlushRecord): void;
  /** Stored segments holding vouchers after `afterSeq`, in seq order, at most `limit`. A segment
   *  that starts at or before afterSeq is cut to its tail; its signature still covers it [P-4.4]. */
  segmentsAfter(channelId: Uint8Array, afterSeq: bigint, limit: number): OutgoingSegment[];
  /** The hash of a stored voucher, the receipt's head hash, or the channel id for seq 0. */
  hashAt(channelId: Uint8Array, seq: bigint): Uint8Array | undefined;
  /** Stored voucher values at seq, if still in the outbox. */
  voucherAt(channelId: Uint8Array, seq: bigint): NewVoucher | undefined;
  /** Keeps the receipt and deletes every voucher with seq <= receipt.seq, in one transaction [P-5.2]. */
  applyReceipt(receipt: StoredReceipt): void;
  /** Vouchers and segments still waiting for a receipt. */
  depth(channelId: Uint8Array): { vouchers: number; segments: number };
}
