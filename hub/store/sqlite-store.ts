// SQLite implementation of HubStore (better-sqlite3, synchronous). WAL journal; synchronous FULL
// by default because a receipt tells the device it may delete its copy [P-5.2]: with NORMAL a
// power cut could lose a committed transaction whose receipt was already sent (docs/hub.md).

import Database from 'better-sqlite3';
import { MIGRATIONS } from './schema.js';
import type { OutboxEvent, OutboxStore } from './outbox-types.js';
import { SqliteOutbox } from './sqlite-outbox.js';
import { partitionOf } from '../../protocol/index.js';
import { asBuffer as blob, big, bigOrNull, toChannel, toDevice, toEpoch, toSegment, u8, type Row } from './rows.js';
import {
  StoreConflictError,
  type ChannelRow,
  type ChannelStateName,
  type CommitBatch,
  type DeviceRow,
  type NewChannel,
  type EntryRow,
  type EpochClose,
  type EpochRow,
  type EquivocationRow,
  type HeadRow,
  type HubStore,
  type SyncHubStore,
  type RejectionCount,
  type RejectionQuery,
  type RejectionRow,
  type SegmentRow,
} from './types.js';

export interface SqliteStoreOptions {
  synchronous?: 'FULL' | 'NORMAL';
  readonly?: boolean;
  /**
   * Test hook: called with the store's own connection once it is set up. Settings that belong to
   * one connection (max_page_count, to fill the disk on purpose) can only be made through it.
   */
  onConnection?: (db: Database.Database) => void;
}

/** The store the hub uses: the synchronous connection below, behind the asynchronous interface. */
export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): HubStore {
  return new AsyncSqliteStore(openSqliteSync(file, options));
}

/** The synchronous connection itself, for code that runs before the hub does (data dir set-up). */
export function openSqliteSync(file: string, options: SqliteStoreOptions = {}): SyncHubStore {
  const db = new Database(file, { readonly: options.readonly ?? false });
  db.defaultSafeIntegers(true);
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    db.pragma('foreign_keys = ON');
    // A management command (CLI with the hub stopped) may meet a checkpoint; wait, do not fail.
    db.pragma('busy_timeout = 5000');
    migrate(db);
  }
  options.onConnection?.(db);
  return new SqliteStore(db);
}

function migrate(db: Database.Database): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  for (let i = version; i < MIGRATIONS.length; i++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[i]!);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
}

// A single hub on SQLite holds every partition; the filter is there for the store contract. Rows
// are filtered here, SQLite having no hash to compute a partition with.
const inPartitions =
  (partitions: readonly number[]) =>
  (row: { deviceKey: Uint8Array }): boolean =>
    partitions.includes(partitionOf(row.deviceKey));

class SqliteStore implements SyncHubStore {
  private readonly s;
  readonly outbox: SqliteOutbox;

  constructor(private readonly db: Database.Database) {
    this.outbox = new SqliteOutbox(db);
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      getMeta: p('SELECT value FROM meta WHERE key = ?').safeIntegers(false),
      setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      insertDevice: p('INSERT INTO devices (device_key, enrolled_at_ms) VALUES (?, ?)'),
      insertChannel: p(`INSERT INTO channels (channel_id, device_key, record, unit, price, capacity, opened_at_ms,
        expires_at_ms, state, head_hash, settled_hash, updated_at_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)`),
      getDevice: p('SELECT * FROM devices WHERE device_key = ?'),
      listDevices: p('SELECT * FROM devices ORDER BY enrolled_at_ms, device_key'),
      revokeDevice: p('UPDATE devices SET revoked_at_ms = ? WHERE device_key = ? AND revoked_at_ms IS NULL'),
      raiseCredentialFloor: p(
        'UPDATE devices SET credential_floor_ms = max(credential_floor_ms, ?) WHERE device_key = ?',
      ),
      revokeChannels: p(`UPDATE channels SET state = 'revoked', updated_at_ms = ? WHERE device_key = ?`),
      getChannel: p('SELECT * FROM channels WHERE channel_id = ?'),
      listChannels: p('SELECT * FROM channels ORDER BY opened_at_ms, channel_id'),
      listChannelsOf: p('SELECT * FROM channels WHERE device_key = ? ORDER BY opened_at_ms, channel_id'),
      setCapacity: p('UPDATE channels SET capacity = ?, state = ?, updated_at_ms = ? WHERE channel_id = ?'),
      setState: p('UPDATE channels SET state = ?, updated_at_ms = ? WHERE channel_id = ?'),
      segmentContaining: p(`SELECT * FROM segments WHERE channel_id = ? AND last_seq >= ? AND first_seq <= ?
        ORDER BY last_seq LIMIT 1`),
      segmentEndingAt: p('SELECT * FROM segments WHERE channel_id = ? AND last_seq = ?'),
      countSegments: p('SELECT count(*) AS n FROM segments WHERE channel_id = ?'),
      insertSegment: p(`INSERT INTO segments (channel_id, first_seq, new_from_seq, last_seq, head_hash, cum_units,
        cum_amount, bytes, received_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      // The guard: the head moves only from the seq the pipeline saw. A closed or revoked channel
      // keeps its state (its accepted vouchers still count, nothing after).
      updateHead: p(`UPDATE channels SET head_seq = ?, head_hash = ?, head_units = ?, head_amount = ?,
        receipt = coalesce(?, receipt),
        state = CASE WHEN state IN ('closed', 'revoked') THEN state ELSE ? END, updated_at_ms = ?
        WHERE channel_id = ? AND head_seq = ?`),
      flagEquivocated: p('UPDATE channels SET equivocated = 1 WHERE channel_id = ?'),
      insertRejection: p(`INSERT INTO rejections (at_ms, stage, reason, device_key, channel_id, seq, vouchers, detail)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      countRejection: p(`INSERT INTO rejection_counts (reason, events, vouchers) VALUES (?, 1, ?)
        ON CONFLICT(reason) DO UPDATE SET events = events + 1, vouchers = vouchers + excluded.vouchers`),
      rejectionCounts: p('SELECT * FROM rejection_counts ORDER BY reason'),
      pruneRejections: p('DELETE FROM rejections WHERE id <= (SELECT max(id) FROM rejections) - ?'),
      insertEquivocation: p(`INSERT INTO equivocations (channel_id, seq, stored_hash, segment, detected_at_ms)
        VALUES (?, ?, ?, ?, ?)`),
      listEquivocations: p('SELECT * FROM equivocations ORDER BY id'),
      listEquivocationsOf: p('SELECT * FROM equivocations WHERE channel_id = ? ORDER BY id'),
      countEquivocations: p('SELECT COUNT(*) AS n FROM equivocations'),
      lastEpoch: p('SELECT * FROM epochs ORDER BY epoch DESC LIMIT 1'),
      getEpoch: p('SELECT * FROM epochs WHERE epoch = ?'),
      listEpochs: p('SELECT * FROM epochs ORDER BY epoch'),
      epochEntries: p('SELECT * FROM settlement_entries WHERE epoch = ? ORDER BY channel_id'),
      insertEpoch: p(`INSERT INTO epochs (epoch, closed_at_ms, record, signature, root, entry_count, total_delta_amount)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
      insertEntry: p('INSERT INTO settlement_entries (epoch, channel_id, entry, to_seq) VALUES (?, ?, ?, ?)'),
      unanchoredEpochs: p('SELECT * FROM epochs WHERE anchor IS NULL ORDER BY epoch LIMIT ?'),
      anchorStatus: p(`SELECT (SELECT count(*) FROM epochs WHERE anchor IS NULL) AS pending,
        (SELECT max(epoch) FROM epochs WHERE anchor IS NOT NULL) AS last`),
      epochAnchor: p('SELECT anchor FROM epochs WHERE epoch = ?'),
      setEpochAnchor: p('UPDATE epochs SET anchor = ? WHERE epoch = ? AND anchor IS NULL'),
      updateSettled: p(`UPDATE channels SET settled_seq = ?, settled_hash = ?, settled_units = ?, settled_amount = ?
        WHERE channel_id = ? AND settled_seq = ?`),
    };
  }

  getMeta(key: string): string | undefined {
    return (this.s.getMeta.get(key) as Row | undefined)?.value as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.s.setMeta.run(key, value);
  }

  enrol(items: { deviceKey: Uint8Array; atMs: bigint; channel: NewChannel }[]): ChannelRow[] {
    return this.db.transaction(() => {
      for (const { deviceKey, atMs, channel: c } of items) {
        try {
          this.s.insertDevice.run(blob(deviceKey), atMs);
          this.s.insertChannel.run(
            blob(c.channelId),
            blob(c.deviceKey),
            blob(c.record),
            c.unit,
            c.pricePerUnit.toString(),
            c.capacity.toString(),
            c.openedAtMs,
            c.expiresAtMs,
            blob(c.channelId),
            blob(c.channelId),
            atMs,
          );
        } catch (err) {
          if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
            throw new StoreConflictError(`device or channel already exists: ${Buffer.from(deviceKey).toString('hex')}`);
          }
          throw err;
        }
      }
      return items.map(({ channel }) => toChannel(this.s.getChannel.get(blob(channel.channelId)) as Row));
    })();
  }

  getDevice(deviceKey: Uint8Array): DeviceRow | undefined {
    const r = this.s.getDevice.get(blob(deviceKey)) as Row | undefined;
    return r && toDevice(r);
  }

  listDevices(filter: { partitions?: readonly number[] } = {}): DeviceRow[] {
    const rows = (this.s.listDevices.all() as Row[]).map(toDevice);
    return filter.partitions ? rows.filter(inPartitions(filter.partitions)) : rows;
  }

  revokeDevice(deviceKey: Uint8Array, atMs: bigint, events: OutboxEvent[] = []): boolean {
    return this.db.transaction(() => {
      if (!this.getDevice(deviceKey)) return false;
      this.s.revokeDevice.run(atMs, blob(deviceKey));
      this.s.revokeChannels.run(atMs, blob(deviceKey));
      this.outbox.insertEvents(events);
      return true;
    })();
  }

  getChannel(channelId: Uint8Array): ChannelRow | undefined {
    const r = this.s.getChannel.get(blob(channelId)) as Row | undefined;
    return r && toChannel(r);
  }

  listChannels(filter: { deviceKey?: Uint8Array; partitions?: readonly number[] } = {}): ChannelRow[] {
    const rows = filter.deviceKey ? this.s.listChannelsOf.all(blob(filter.deviceKey)) : this.s.listChannels.all();
    const channels = (rows as Row[]).map(toChannel);
    return filter.partitions && !filter.deviceKey ? channels.filter(inPartitions(filter.partitions)) : channels;
  }

  setChannelCapacity(
    channelId: Uint8Array,
    capacity: bigint,
    state: ChannelStateName,
    atMs: bigint,
    events: OutboxEvent[] = [],
  ): void {
    this.db.transaction(() => {
      this.s.setCapacity.run(capacity.toString(), state, atMs, blob(channelId));
      this.outbox.insertEvents(events);
    })();
  }

  setChannelState(channelId: Uint8Array, state: ChannelStateName, atMs: bigint, events: OutboxEvent[] = []): void {
    this.db.transaction(() => {
      this.s.setState.run(state, atMs, blob(channelId));
      this.outbox.insertEvents(events);
    })();
  }

  segmentContaining(channelId: Uint8Array, seq: bigint): SegmentRow | undefined {
    const r = this.s.segmentContaining.get(blob(channelId), seq, seq) as Row | undefined;
    return r && toSegment(r);
  }

  segmentEndingAt(channelId: Uint8Array, seq: bigint): SegmentRow | undefined {
    const r = this.s.segmentEndingAt.get(blob(channelId), seq) as Row | undefined;
    return r && toSegment(r);
  }

  countSegments(channelId: Uint8Array): number {
    return Number((this.s.countSegments.get(blob(channelId)) as Row).n);
  }

  commit(batch: CommitBatch): void {
    this.db.transaction(() => {
      for (const g of batch.segments) {
        this.s.insertSegment.run(
          blob(g.channelId),
          g.firstSeq,
          g.newFromSeq,
          g.lastSeq,
          blob(g.headHash),
          g.cumUnits.toString(),
          g.cumAmount.toString(),
          blob(g.bytes),
          g.receivedAtMs,
        );
      }
      for (const h of batch.heads) {
        const info = this.s.updateHead.run(
          h.head.seq,
          blob(h.head.hash),
          h.head.cumUnits.toString(),
          h.head.cumAmount.toString(),
          h.receipt ? blob(h.receipt) : null,
          h.state,
          h.atMs,
          blob(h.channelId),
          h.expectedSeq,
        );
        if (info.changes !== 1) {
          throw new StoreConflictError(`head guard failed for channel ${Buffer.from(h.channelId).toString('hex')}`);
        }
      }
      for (const e of batch.equivocations) {
        this.s.insertEquivocation.run(blob(e.channelId), e.seq, blob(e.storedHash), blob(e.segment), e.detectedAtMs);
      }
      for (const id of batch.equivocatedChannels) this.s.flagEquivocated.run(blob(id));
      for (const f of batch.credentialFloors ?? []) this.s.raiseCredentialFloor.run(f.issuedAtMs, blob(f.deviceKey));
      for (const r of batch.rejections) {
        this.s.insertRejection.run(
          r.atMs,
          r.stage,
          r.reason,
          r.deviceKey && blob(r.deviceKey),
          r.channelId && blob(r.channelId),
          r.seq,
          r.vouchers,
          r.detail,
        );
        this.s.countRejection.run(r.reason, r.vouchers);
      }
      this.outbox.insertEvents(batch.events ?? []);
    })();
  }

  rejectionCounts(): RejectionCount[] {
    return (this.s.rejectionCounts.all() as Row[]).map((r) => ({
      reason: r.reason as string,
      events: big(r.events),
      vouchers: big(r.vouchers),
    }));
  }

  recentRejections(q: RejectionQuery): (RejectionRow & { id: bigint })[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const filter = (clause: string, arg: unknown) => {
      where.push(clause);
      args.push(arg);
    };
    if (q.reason !== undefined) filter('reason = ?', q.reason);
    if (q.deviceKey !== undefined) filter('device_key = ?', blob(q.deviceKey));
    if (q.channelId !== undefined) filter('channel_id = ?', blob(q.channelId));
    const sql = `SELECT * FROM rejections ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit) as Row[]).map((r) => ({
      id: big(r.id),
      atMs: big(r.at_ms),
      stage: r.stage as string,
      reason: r.reason as string,
      deviceKey: r.device_key === null ? null : u8(r.device_key),
      channelId: r.channel_id === null ? null : u8(r.channel_id),
      seq: bigOrNull(r.seq),
      vouchers: Number(r.vouchers),
      detail: (r.detail as string | null) ?? null,
    }));
  }

  pruneRejections(keep: number): void {
    this.s.pruneRejections.run(keep);
  }

  countEquivocations(): number {
    return Number((this.s.countEquivocations.get() as Row).n);
  }

  listEquivocations(channelId?: Uint8Array): (EquivocationRow & { id: bigint })[] {
    const rows = channelId ? this.s.listEquivocationsOf.all(blob(channelId)) : this.s.listEquivocations.all();
    return (rows as Row[]).map((r) => ({
      id: big(r.id),
      channelId: u8(r.channel_id),
      seq: big(r.seq),
      storedHash: u8(r.stored_hash),
      segment: u8(r.segment),
      detectedAtMs: big(r.detected_at_ms),
    }));
  }

  lastEpoch(): EpochRow | undefined {
    const r = this.s.lastEpoch.get() as Row | undefined;
    return r && toEpoch(r);
  }

  getEpoch(epoch: bigint): EpochRow | undefined {
    const r = this.s.getEpoch.get(epoch) as Row | undefined;
    return r && toEpoch(r);
  }

  unanchoredEpochs(limit: number): EpochRow[] {
    return (this.s.unanchoredEpochs.all(limit) as Row[]).map(toEpoch);
  }

  anchorStatus(): { pending: number; lastAnchored: bigint | null } {
    const r = this.s.anchorStatus.get() as Row;
    return { pending: Number(r.pending), lastAnchored: bigOrNull(r.last) };
  }

  epochAnchor(epoch: bigint): string | undefined {
    const r = this.s.epochAnchor.get(epoch) as Row | undefined;
    return (r?.anchor as string | null | undefined) ?? undefined;
  }

  setEpochAnchor(epoch: bigint, anchor: string): void {
    this.s.setEpochAnchor.run(anchor, epoch);
  }

  listEpochs(): EpochRow[] {
    return (this.s.listEpochs.all() as Row[]).map(toEpoch);
  }

  epochEntries(epoch: bigint): EntryRow[] {
    return (this.s.epochEntries.all(epoch) as Row[]).map((r) => ({
      epoch: big(r.epoch),
      channelId: u8(r.channel_id),
      entry: u8(r.entry),
      toSeq: big(r.to_seq),
    }));
  }

  closeEpoch(close: EpochClose): void {
    this.db.transaction(() => {
      const e = close.epoch;
      this.s.insertEpoch.run(
        e.epoch,
        e.closedAtMs,
        blob(e.record),
        blob(e.signature),
        blob(e.root),
        e.entryCount,
        e.totalDeltaAmount.toString(),
      );
      for (const x of close.entries) this.s.insertEntry.run(x.epoch, blob(x.channelId), blob(x.entry), x.toSeq);
      for (const s of close.settled) {
        const h: HeadRow = s.head;
        const info = this.s.updateSettled.run(
          h.seq,
          blob(h.hash),
          h.cumUnits.toString(),
          h.cumAmount.toString(),
          blob(s.channelId),
          s.expectedSettledSeq,
        );
        if (info.changes !== 1) {
          throw new StoreConflictError(`settled guard failed for ${Buffer.from(s.channelId).toString('hex')}`);
        }
      }
      this.outbox.insertEvents(close.events ?? []);
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * better-sqlite3 answers synchronously; each call resolves at once. The group commit makes one
 * such call per commit, not per segment, so the promise costs nothing measurable (bench/hub-ingest.ts).
 */
class AsyncSqliteStore implements HubStore {
  readonly outbox: OutboxStore;
  constructor(private readonly s: SyncHubStore) {
    this.outbox = s.outbox;
  }
  getMeta = async (key: string) => this.s.getMeta(key);
  setMeta = async (key: string, value: string) => this.s.setMeta(key, value);
  enrol = async (items: Parameters<HubStore['enrol']>[0]) => this.s.enrol(items);
  getDevice = async (deviceKey: Uint8Array) => this.s.getDevice(deviceKey);
  listDevices = async (filter?: { partitions?: readonly number[] }) => this.s.listDevices(filter);
  revokeDevice = async (deviceKey: Uint8Array, atMs: bigint, events?: OutboxEvent[]) =>
    this.s.revokeDevice(deviceKey, atMs, events);
  getChannel = async (channelId: Uint8Array) => this.s.getChannel(channelId);
  listChannels = async (filter?: { deviceKey?: Uint8Array; partitions?: readonly number[] }) =>
    this.s.listChannels(filter);
  setChannelCapacity = async (
    channelId: Uint8Array,
    capacity: bigint,
    state: ChannelStateName,
    atMs: bigint,
    events?: OutboxEvent[],
  ) => this.s.setChannelCapacity(channelId, capacity, state, atMs, events);
  setChannelState = async (channelId: Uint8Array, state: ChannelStateName, atMs: bigint, events?: OutboxEvent[]) =>
    this.s.setChannelState(channelId, state, atMs, events);
  segmentContaining = async (channelId: Uint8Array, seq: bigint) => this.s.segmentContaining(channelId, seq);
  segmentEndingAt = async (channelId: Uint8Array, seq: bigint) => this.s.segmentEndingAt(channelId, seq);
  countSegments = async (channelId: Uint8Array) => this.s.countSegments(channelId);
  commit = async (batch: CommitBatch) => this.s.commit(batch);
  rejectionCounts = async () => this.s.rejectionCounts();
  recentRejections = async (query: RejectionQuery) => this.s.recentRejections(query);
  pruneRejections = async (keep: number) => this.s.pruneRejections(keep);
  listEquivocations = async (channelId?: Uint8Array) => this.s.listEquivocations(channelId);
  countEquivocations = async () => this.s.countEquivocations();
  lastEpoch = async () => this.s.lastEpoch();
  getEpoch = async (epoch: bigint) => this.s.getEpoch(epoch);
  listEpochs = async () => this.s.listEpochs();
  epochEntries = async (epoch: bigint) => this.s.epochEntries(epoch);
  closeEpoch = async (close: EpochClose) => this.s.closeEpoch(close);
  unanchoredEpochs = async (limit: number) => this.s.unanchoredEpochs(limit);
  anchorStatus = async () => this.s.anchorStatus();
  epochAnchor = async (epoch: bigint) => this.s.epochAnchor(epoch);
  setEpochAnchor = async (epoch: bigint, anchor: string) => this.s.setEpochAnchor(epoch, anchor);
  close = async () => this.s.close();
}
