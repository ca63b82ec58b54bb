// The hub's storage interface. The ingest pipeline, settlement and the management operations use
// only this; test/hub/store.contract.ts runs one contract suite against each implementation.
// Heads and states mirror protocol/ types structurally, so values pass between them unchanged.

import type { OutboxEvent, OutboxStore } from './outbox-types.js';

export type ChannelStateName = 'open' | 'exhausted' | 'closed' | 'revoked';

export interface HeadRow {
  seq: bigint;
  hash: Uint8Array;
  cumUnits: bigint;
  cumAmount: bigint;
}

export interface DeviceRow {
  deviceKey: Uint8Array;
  enrolledAtMs: bigint;
  revokedAtMs: bigint | null;
  /** issuedAtMs of the newest broker credential accepted for the device (0 = none) [P-6.4]. */
  credentialFloorMs: bigint;
}

export interface NewChannel {
  channelId: Uint8Array;
  deviceKey: Uint8Array;
  /** Canonical opening record [P-3.1]; the id is its tagged hash. */
  record: Uint8Array;
  unit: string;
  pricePerUnit: bigint;
  capacity: bigint;
  openedAtMs: bigint;
  expiresAtMs: bigint;
}

export interface ChannelRow extends NewChannel {
  state: ChannelStateName;
  head: HeadRow;
  /** The latest receipt bytes [P-5.1], written in the same transaction as the head it covers. */
  receipt: Uint8Array | null;
  settled: HeadRow;
  equivocated: boolean;
  updatedAtMs: bigint;
}

export interface SegmentRow {
  channelId: Uint8Array;
  firstSeq: bigint;
  /** First seq this segment added to the chain (> firstSeq when it overlapped the head). */
  newFromSeq: bigint;
  lastSeq: bigint;
  headHash: Uint8Array;
  cumUnits: bigint;
  cumAmount: bigint;
  /** The segment message exactly as the device sent it [P-6.5]. */
  bytes: Uint8Array;
  receivedAtMs: bigint;
}

export interface RejectionRow {
  atMs: bigint;
  stage: string;
  reason: string;
  deviceKey: Uint8Array | null;
  channelId: Uint8Array | null;
  seq: bigint | null;
  /** Vouchers the refused message carried (1 when it could not be decoded). */
  vouchers: number;
  detail: string | null;
}

export interface EquivocationRow {
  channelId: Uint8Array;
  seq: bigint;
  storedHash: Uint8Array;
  segment: Uint8Array;
  detectedAtMs: bigint;
}

/** A head move, applied only if the stored head is still `expectedSeq` (a guard against ever
 *  counting twice, whatever the in-memory state believes). */
export interface HeadUpdate {
  channelId: Uint8Array;
  expectedSeq: bigint;
  head: HeadRow;
  state: ChannelStateName;
  receipt: Uint8Array | null;
  atMs: bigint;
}

/** Everything one group commit writes, in one transaction. */
export interface CommitBatch {
  segments: SegmentRow[];
  heads: HeadUpdate[];
  rejections: RejectionRow[];
  equivocations: EquivocationRow[];
  equivocatedChannels: Uint8Array[];
  /** Broker credentials accepted since the last commit: each device's floor rises to issuedAtMs
   *  (never falls). */
  credentialFloors?: { deviceKey: Uint8Array; issuedAtMs: bigint }[];
  /** Webhook events the batch causes (channel.exhausted, low_capacity, device.equivocation). */
  events?: OutboxEvent[];
}

export interface EpochRow {
  epoch: bigint;
  closedAtMs: bigint;
  record: Uint8Array;
  signature: Uint8Array;
  root: Uint8Array;
  entryCount: number;
  totalDeltaAmount: bigint;
}

export interface EntryRow {
  epoch: bigint;
  channelId: Uint8Array;
  entry: Uint8Array;
  toSeq: bigint;
}

export interface EpochClose {
  epoch: EpochRow;
  entries: EntryRow[];
  /** New settled heads; applied only if the stored settled seq is still `expectedSettledSeq`. */
  settled: { channelId: Uint8Array; expectedSettledSeq: bigint; head: HeadRow }[];
  /** Webhook events (epoch.settled), written in the same transaction. */
  events?: OutboxEvent[];
}

export interface RejectionCount {
  reason: string;
  events: bigint;
  vouchers: bigint;
}

export interface RejectionQuery {
  limit: number;
  reason?: string;
  deviceKey?: Uint8Array;
  channelId?: Uint8Array;
}

export class StoreConflictError extends Error {
  readonly code = 'STORE_CONFLICT';
}

/**
 * Every method is asynchronous so that a store may live across a network (PostgreSQL). The SQLite
 * store answers at once (resolved promises over a synchronous connection). The ingest path does not
 * wait on the store per segment: it commits in groups, one commit in flight at a time, and the rare
 * reads it makes (a duplicate's stored hash) hold back only that channel's later segments.
 */
export interface HubStore {
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  /** Enrols devices with their first channels atomically: all or none. Throws StoreConflictError
   *  when a device or channel already exists. Returns the channels as stored, in the order given
   *  (the hub builds its live state from them without reading them back). */
  enrol(items: { deviceKey: Uint8Array; atMs: bigint; channel: NewChannel }[]): Promise<ChannelRow[]>;
  getDevice(deviceKey: Uint8Array): Promise<DeviceRow | undefined>;
  /** Every device, or those of some partitions [P-6.7] (a cluster hub taking them over). */
  listDevices(filter?: { partitions?: readonly number[] }): Promise<DeviceRow[]>;
  /** Marks the device revoked and every channel of it 'revoked'. Returns false if unknown.
   *  `events` (webhooks) are written in the same transaction, as in the two methods below. */
  revokeDevice(deviceKey: Uint8Array, atMs: bigint, events?: OutboxEvent[]): Promise<boolean>;

  getChannel(channelId: Uint8Array): Promise<ChannelRow | undefined>;
  /** Every channel, or one device's, or those of the devices of some partitions [P-6.7]; in
   *  opening order. */
  listChannels(filter?: { deviceKey?: Uint8Array; partitions?: readonly number[] }): Promise<ChannelRow[]>;
  setChannelCapacity(
    channelId: Uint8Array,
    capacity: bigint,
    state: ChannelStateName,
    atMs: bigint,
    events?: OutboxEvent[],
  ): Promise<void>;
  setChannelState(channelId: Uint8Array, state: ChannelStateName, atMs: bigint, events?: OutboxEvent[]): Promise<void>;

  /** An accepted segment that holds `seq` (first_seq <= seq <= last_seq). */
  segmentContaining(channelId: Uint8Array, seq: bigint): Promise<SegmentRow | undefined>;
  /** The accepted segment whose signed head is exactly `seq`. */
  segmentEndingAt(channelId: Uint8Array, seq: bigint): Promise<SegmentRow | undefined>;
  countSegments(channelId: Uint8Array): Promise<number>;

  /** One transaction. Throws (and writes nothing) if any head guard fails. */
  commit(batch: CommitBatch): Promise<void>;

  rejectionCounts(): Promise<RejectionCount[]>;
  recentRejections(query: RejectionQuery): Promise<(RejectionRow & { id: bigint })[]>;
  pruneRejections(keep: number): Promise<void>;
  listEquivocations(channelId?: Uint8Array): Promise<(EquivocationRow & { id: bigint })[]>;
  /** How many evidence rows are kept, without loading them (the live dashboard asks every second). */
  countEquivocations(): Promise<number>;

  lastEpoch(): Promise<EpochRow | undefined>;
  getEpoch(epoch: bigint): Promise<EpochRow | undefined>;
  listEpochs(): Promise<EpochRow[]>;
  epochEntries(epoch: bigint): Promise<EntryRow[]>;
  /** One transaction: the epoch, its entries and the settled heads, or nothing. */
  closeEpoch(close: EpochClose): Promise<void>;

  // Anchoring (docs/settlement.md): the proof of where an epoch's root was published on a chain,
  // as JSON text (hub/anchor/proof.ts), stored once mined; null until then.
  /** Closed epochs with no anchor yet, oldest first, at most `limit`. */
  unanchoredEpochs(limit: number): Promise<EpochRow[]>;
  /** How many closed epochs wait for an anchor, and the highest epoch anchored. */
  anchorStatus(): Promise<{ pending: number; lastAnchored: bigint | null }>;
  epochAnchor(epoch: bigint): Promise<string | undefined>;
  /** Records the anchor of a closed epoch; a second call for the epoch changes nothing. */
  setEpochAnchor(epoch: bigint, anchor: string): Promise<void>;

  /** The webhook outbox: subscriptions, deliveries and their delivery loop's bookkeeping. */
  readonly outbox: OutboxStore;

  close(): Promise<void>;
}

/** The same operations answered synchronously (the SQLite connection underneath its store). */
export type SyncHubStore = {
  [K in keyof HubStore]: HubStore[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : HubStore[K];
};

/**
 * What may read the ledger without writing it: the dashboard, tools, tests. The hub's core keeps
 * the store itself private and hands this out (HubCore.ledger), so nothing writes behind its back.
 */
export type HubLedger = Pick<
  HubStore,
  | 'getMeta'
  | 'getDevice'
  | 'listDevices'
  | 'getChannel'
  | 'listChannels'
  | 'segmentContaining'
  | 'segmentEndingAt'
  | 'countSegments'
  | 'rejectionCounts'
  | 'recentRejections'
  | 'listEquivocations'
  | 'countEquivocations'
  | 'lastEpoch'
  | 'getEpoch'
  | 'listEpochs'
  | 'epochEntries'
  | 'epochAnchor'
  | 'anchorStatus'
>;
