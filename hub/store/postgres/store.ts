// PostgreSQL implementation of HubStore (node-postgres, a pool). One group commit is one
// transaction of multi-row statements (UNNEST of arrays), so its cost is a handful of round trips
// whatever its size. Every head move is a compare-and-set on the stored head seq: if any guard
// fails, the whole commit rolls back and nothing of it is acknowledged. int8 and numeric come
// back as BigInt (a type parser of this pool only), so money never passes through a float.

import pg from 'pg';
import { PG_MIGRATIONS } from './schema.js';
import { insertEvents, PostgresOutbox } from './outbox.js';
import { bytesAt, packBytes } from './pack.js';
import type { OutboxEvent, OutboxStore } from '../outbox-types.js';
import { asBuffer as buf, big, toChannel, toDevice, toEpoch, toSegment, u8, type Row } from '../rows.js';
import {
  StoreConflictError,
  type ChannelRow,
  type ChannelStateName,
  type CommitBatch,
  type DeviceRow,
  type EntryRow,
  type EpochClose,
  type EpochRow,
  type EquivocationRow,
  type HubStore,
  type NewChannel,
  type RejectionCount,
  type RejectionQuery,
  type RejectionRow,
  type SegmentRow,
} from '../types.js';

/** A client inside an open transaction. */
export type PgTransaction = Pick<pg.PoolClient, 'query'>;

export interface PostgresStoreOptions {
  /** Wins over a password in the URL (kept out of the URL so that logs and `ps` never see it). */
  password?: string;
  /** Connections in the pool (default 4: one group commit at a time, reads beside it). */
  poolSize?: number;
  /**
   * Runs first inside every group commit transaction (before any write); throwing aborts the
   * commit as a failed guard does. A cluster checks its partition leases (fencing tokens) here.
   */
  beforeCommit?: (tx: PgTransaction, batch: CommitBatch) => Promise<void>;
}

const INT8 = 20;
const NUMERIC = 1700;
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 || oid === NUMERIC
      ? (v: string) => BigInt(v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

const str = (v: bigint | number): string => v.toString();

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/** Opens (and migrates) the database at `url`, e.g. postgres://user@host:5432/tally. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<HubStore> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 4,
    types,
    // A server that does not answer fails the start (or the commit) in seconds, not after the
    // operating system's TCP timeout; keepalive notices a connection that died silently.
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    ...(options.password !== undefined ? { password: options.password } : {}),
  });
  // An idle client that loses its server must not crash the hub; the next query reports it.
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return new PostgresStore(pool, options);
}

async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Hubs starting together: one migrates, the others wait here and then find nothing to do.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('tally-hub schema'))");
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = await client.query('SELECT coalesce(max(version), 0) AS v FROM schema_migrations');
    for (let i = Number(done.rows[0].v); i < PG_MIGRATIONS.length; i++) {
      await client.query(PG_MIGRATIONS[i]!);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [i + 1]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

class PostgresStore implements HubStore {
  private closed = false;
  readonly outbox: OutboxStore;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresStoreOptions,
  ) {
    this.outbox = new PostgresOutbox(pool, (work) => this.tx(work));
  }

  private async rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, params)).rows as Row[];
  }

  private async tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await work(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.rows('SELECT value FROM meta WHERE key = $1', [key]))[0]?.value as string | undefined;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.pool.query(
      'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }

  async enrol(items: { deviceKey: Uint8Array; atMs: bigint; channel: NewChannel }[]): Promise<ChannelRow[]> {
    try {
      return await this.tx(async (c) => {
        await c.query(
          'INSERT INTO devices (device_key, enrolled_at_ms) SELECT * FROM UNNEST($1::bytea[], $2::int8[])',
          [items.map((i) => buf(i.deviceKey)), items.map((i) => str(i.atMs))],
        );
        const chs = items.map((i) => i.channel);
        const inserted = await c.query(
          `INSERT INTO channels (channel_id, device_key, record, unit, price, capacity, opened_at_ms, expires_at_ms,
             state, head_hash, settled_hash, updated_at_ms)
           SELECT id, dev, rec, unit, price, cap, opened, expires, 'open', id, id, at
           FROM UNNEST($1::bytea[], $2::bytea[], $3::bytea[], $4::text[], $5::numeric[], $6::numeric[], $7::int8[],
             $8::int8[], $9::int8[]) AS u(id, dev, rec, unit, price, cap, opened, expires, at)
           RETURNING *`,
          [
            chs.map((ch) => buf(ch.channelId)),
            chs.map((ch) => buf(ch.deviceKey)),
            chs.map((ch) => buf(ch.record)),
            chs.map((ch) => ch.unit),
            chs.map((ch) => str(ch.pricePerUnit)),
            chs.map((ch) => str(ch.capacity)),
            chs.map((ch) => str(ch.openedAtMs)),
            chs.map((ch) => str(ch.expiresAtMs)),
            items.map((i) => str(i.atMs)),
          ],
        );
        // RETURNING names no order: the rows are put back in the order given.
        const byId = new Map((inserted.rows as Row[]).map((r) => [buf(r.channel_id as Uint8Array).toString('hex'), r]));
        return chs.map((ch) => toChannel(byId.get(buf(ch.channelId).toString('hex'))!));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreConflictError(`device or channel already exists`);
      throw err;
    }
  }

  async getDevice(deviceKey: Uint8Array): Promise<DeviceRow | undefined> {
    const r = (await this.rows('SELECT * FROM devices WHERE device_key = $1', [buf(deviceKey)]))[0];
    return r && toDevice(r);
  }

  async listDevices(filter: { partitions?: readonly number[] } = {}): Promise<DeviceRow[]> {
    const rows = filter.partitions
      ? await this.rows('SELECT * FROM devices WHERE partition = ANY($1::int2[]) ORDER BY enrolled_at_ms, device_key', [
          [...filter.partitions],
        ])
      : await this.rows('SELECT * FROM devices ORDER BY enrolled_at_ms, device_key');
    return rows.map(toDevice);
  }

  async revokeDevice(deviceKey: Uint8Array, atMs: bigint, events: OutboxEvent[] = []): Promise<boolean> {
    return this.tx(async (c) => {
      const found = await c.query('SELECT 1 FROM devices WHERE device_key = $1 FOR UPDATE', [buf(deviceKey)]);
      if (found.rowCount === 0) return false;
      await c.query('UPDATE devices SET revoked_at_ms = $1 WHERE device_key = $2 AND revoked_at_ms IS NULL', [
        str(atMs),
        buf(deviceKey),
      ]);
      await c.query(`UPDATE channels SET state = 'revoked', updated_at_ms = $1 WHERE device_key = $2`, [
        str(atMs),
        buf(deviceKey),
      ]);
      await insertEvents(c, events);
      return true;
    });
  }

  async getChannel(channelId: Uint8Array): Promise<ChannelRow | undefined> {
    const r = (await this.rows('SELECT * FROM channels WHERE channel_id = $1', [buf(channelId)]))[0];
    return r && toChannel(r);
  }

  async listChannels(filter: { deviceKey?: Uint8Array; partitions?: readonly number[] } = {}): Promise<ChannelRow[]> {
    const rows = filter.deviceKey
      ? await this.rows('SELECT * FROM channels WHERE device_key = $1 ORDER BY opened_at_ms, channel_id', [
          buf(filter.deviceKey),
        ])
      : filter.partitions
        ? await this.rows(
            `SELECT c.* FROM channels c JOIN devices d ON d.device_key = c.device_key
              WHERE d.partition = ANY($1::int2[]) ORDER BY c.opened_at_ms, c.channel_id`,
            [[...filter.partitions]],
          )
        : await this.rows('SELECT * FROM channels ORDER BY opened_at_ms, channel_id');
    return rows.map(toChannel);
  }

  async setChannelCapacity(
    channelId: Uint8Array,
    capacity: bigint,
    state: ChannelStateName,
    atMs: bigint,
    events: OutboxEvent[] = [],
  ) {
    await this.tx(async (c) => {
      await c.query('UPDATE channels SET capacity = $1, state = $2, updated_at_ms = $3 WHERE channel_id = $4', [
        str(capacity),
        state,
        str(atMs),
        buf(channelId),
      ]);
      await insertEvents(c, events);
    });
  }

  async setChannelState(channelId: Uint8Array, state: ChannelStateName, atMs: bigint, events: OutboxEvent[] = []) {
    await this.tx(async (c) => {
      await c.query('UPDATE channels SET state = $1, updated_at_ms = $2 WHERE channel_id = $3', [
        state,
        str(atMs),
        buf(channelId),
      ]);
      await insertEvents(c, events);
    });
  }

  async segmentContaining(channelId: Uint8Array, seq: bigint): Promise<SegmentRow | undefined> {
    const r = (
      await this.rows(
        `SELECT * FROM segments WHERE channel_id = $1 AND last_seq >= $2 AND first_seq <= $2
         ORDER BY last_seq LIMIT 1`,
        [buf(channelId), str(seq)],
      )
    )[0];
    return r && toSegment(r);
  }

  async segmentEndingAt(channelId: Uint8Array, seq: bigint): Promise<SegmentRow | undefined> {
    const r = (
      await this.rows('SELECT * FROM segments WHERE channel_id = $1 AND last_seq = $2', [buf(channelId), str(seq)])
    )[0];
    return r && toSegment(r);
  }

  async countSegments(channelId: Uint8Array): Promise<number> {
    const r = await this.rows('SELECT count(*) AS n FROM segments WHERE channel_id = $1', [buf(channelId)]);
    return Number(r[0]!.n);
  }

  async commit(batch: CommitBatch): Promise<void> {
    await this.tx(async (c) => {
      if (this.options.beforeCommit) await this.options.beforeCommit(c, batch);
      const g = batch.segments;
      if (g.length > 0) {
        const ids = packBytes(g.map((s) => s.channelId));
        const hashes = packBytes(g.map((s) => s.headHash));
        const bytes = packBytes(g.map((s) => s.bytes));
        await c.query(
          `INSERT INTO segments (channel_id, first_seq, new_from_seq, last_seq, head_hash, cum_units, cum_amount,
             bytes, received_at_ms)
           SELECT ${bytesAt('$1', 'id_s', 'id_l')}, first, nfrom, last, ${bytesAt('$2', 'h_s', 'h_l')}, units, amount,
             ${bytesAt('$3', 'b_s', 'b_l')}, at
           FROM UNNEST($4::int4[], $5::int4[], $6::int4[], $7::int4[], $8::int4[], $9::int4[], $10::int8[], $11::int8[],
             $12::int8[], $13::numeric[], $14::numeric[], $15::int8[])
             AS u(id_s, id_l, h_s, h_l, b_s, b_l, first, nfrom, last, units, amount, at)`,
          [
            ids.blob,
            hashes.blob,
            bytes.blob,
            ids.starts,
            ids.lens,
            hashes.starts,
            hashes.lens,
            bytes.starts,
            bytes.lens,
            g.map((s) => str(s.firstSeq)),
            g.map((s) => str(s.newFromSeq)),
            g.map((s) => str(s.lastSeq)),
            g.map((s) => str(s.cumUnits)),
            g.map((s) => str(s.cumAmount)),
            g.map((s) => str(s.receivedAtMs)),
          ],
        );
      }
      const h = batch.heads;
      if (h.length > 0) {
        // The guard: each head moves only from the seq the pipeline saw; a closed or revoked
        // channel keeps its state (its accepted vouchers still count, nothing after).
        const ids = packBytes(h.map((x) => x.channelId));
        const hashes = packBytes(h.map((x) => x.head.hash));
        const receipts = packBytes(h.map((x) => x.receipt ?? null));
        const moved = await c.query(
          `UPDATE channels c SET head_seq = u.seq, head_hash = u.hash, head_units = u.units, head_amount = u.amount,
             receipt = coalesce(u.receipt, c.receipt),
             state = CASE WHEN c.state IN ('closed', 'revoked') THEN c.state ELSE u.state END,
             updated_at_ms = u.at
           FROM (
             SELECT ${bytesAt('$1', 'id_s', 'id_l')} AS id, expected, seq, ${bytesAt('$2', 'h_s', 'h_l')} AS hash, units,
               amount, ${bytesAt('$3', 'r_s', 'r_l')} AS receipt, state, at
             FROM UNNEST($4::int4[], $5::int4[], $6::int4[], $7::int4[], $8::int4[], $9::int4[], $10::int8[],
               $11::int8[], $12::numeric[], $13::numeric[], $14::text[], $15::int8[])
               AS p(id_s, id_l, h_s, h_l, r_s, r_l, expected, seq, units, amount, state, at)
           ) AS u
           WHERE c.channel_id = u.id AND c.head_seq = u.expected`,
          [
            ids.blob,
            hashes.blob,
            receipts.blob,
            ids.starts,
            ids.lens,
            hashes.starts,
            hashes.lens,
            receipts.starts,
            receipts.lens,
            h.map((x) => str(x.expectedSeq)),
            h.map((x) => str(x.head.seq)),
            h.map((x) => str(x.head.cumUnits)),
            h.map((x) => str(x.head.cumAmount)),
            h.map((x) => x.state),
            h.map((x) => str(x.atMs)),
          ],
        );
        if (moved.rowCount !== h.length) {
          throw new StoreConflictError(`head guard failed for ${h.length - (moved.rowCount ?? 0)} channel(s)`);
        }
      }
      const e = batch.equivocations;
      if (e.length > 0) {
        await c.query(
          `INSERT INTO equivocations (channel_id, seq, stored_hash, segment, detected_at_ms)
           SELECT id, seq, hash, seg, at FROM UNNEST($1::bytea[], $2::int8[], $3::bytea[], $4::bytea[], $5::int8[])
             WITH ORDINALITY AS u(id, seq, hash, seg, at, n) ORDER BY n`,
          [
            e.map((x) => buf(x.channelId)),
            e.map((x) => str(x.seq)),
            e.map((x) => buf(x.storedHash)),
            e.map((x) => buf(x.segment)),
            e.map((x) => str(x.detectedAtMs)),
          ],
        );
      }
      if (batch.equivocatedChannels.length > 0) {
        await c.query('UPDATE channels SET equivocated = true WHERE channel_id = ANY($1::bytea[])', [
          batch.equivocatedChannels.map(buf),
        ]);
      }
      const f = batch.credentialFloors ?? [];
      if (f.length > 0) {
        await c.query(
          `UPDATE devices d SET credential_floor_ms = greatest(d.credential_floor_ms, u.floor)
           FROM UNNEST($1::bytea[], $2::int8[]) AS u(key, floor) WHERE d.device_key = u.key`,
          [f.map((x) => buf(x.deviceKey)), f.map((x) => str(x.issuedAtMs))],
        );
      }
      const r = batch.rejections;
      if (r.length > 0) {
        await c.query(
          `INSERT INTO rejections (at_ms, stage, reason, device_key, channel_id, seq, vouchers, detail)
           SELECT at, stage, reason, dev, ch, seq, n, detail FROM UNNEST($1::int8[], $2::text[], $3::text[],
             $4::bytea[], $5::bytea[], $6::int8[], $7::int8[], $8::text[])
             WITH ORDINALITY AS u(at, stage, reason, dev, ch, seq, n, detail, k) ORDER BY k`,
          [
            r.map((x) => str(x.atMs)),
            r.map((x) => x.stage),
            r.map((x) => x.reason),
            r.map((x) => (x.deviceKey ? buf(x.deviceKey) : null)),
            r.map((x) => (x.channelId ? buf(x.channelId) : null)),
            r.map((x) => (x.seq === null ? null : str(x.seq))),
            r.map((x) => str(x.vouchers)),
            r.map((x) => x.detail),
          ],
        );
        const byReason = new Map<string, { events: bigint; vouchers: bigint }>();
        for (const x of r) {
          const t = byReason.get(x.reason) ?? { events: 0n, vouchers: 0n };
          t.events += 1n;
          t.vouchers += BigInt(x.vouchers);
          byReason.set(x.reason, t);
        }
        await c.query(
          `INSERT INTO rejection_counts (reason, events, vouchers)
           SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[])
           ON CONFLICT (reason) DO UPDATE SET events = rejection_counts.events + excluded.events,
             vouchers = rejection_counts.vouchers + excluded.vouchers`,
          [
            [...byReason.keys()],
            [...byReason.values()].map((t) => str(t.events)),
            [...byReason.values()].map((t) => str(t.vouchers)),
          ],
        );
      }
      await insertEvents(c, batch.events ?? []);
    });
  }

  async rejectionCounts(): Promise<RejectionCount[]> {
    return (await this.rows('SELECT * FROM rejection_counts ORDER BY reason')).map((r) => ({
      reason: r.reason as string,
      events: big(r.events),
      vouchers: big(r.vouchers),
    }));
  }

  async recentRejections(q: RejectionQuery): Promise<(RejectionRow & { id: bigint })[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const filter = (column: string, arg: unknown) => {
      args.push(arg);
      where.push(`${column} = $${args.length}`);
    };
    if (q.reason !== undefined) filter('reason', q.reason);
    if (q.deviceKey !== undefined) filter('device_key', buf(q.deviceKey));
    if (q.channelId !== undefined) filter('channel_id', buf(q.channelId));
    args.push(q.limit);
    const sql = `SELECT * FROM rejections ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY id DESC LIMIT $${args.length}`;
    return (await this.rows(sql, args)).map((r) => ({
      id: big(r.id),
      atMs: big(r.at_ms),
      stage: r.stage as string,
      reason: r.reason as string,
      deviceKey: r.device_key === null ? null : u8(r.device_key),
      channelId: r.channel_id === null ? null : u8(r.channel_id),
      seq: r.seq === null ? null : big(r.seq),
      vouchers: Number(r.vouchers),
      detail: (r.detail as string | null) ?? null,
    }));
  }

  async pruneRejections(keep: number): Promise<void> {
    // Ids may have gaps (a rolled-back commit uses sequence values): keep the newest `keep` rows.
    await this.pool.query(
      'DELETE FROM rejections WHERE id <= (SELECT id FROM rejections ORDER BY id DESC OFFSET $1 LIMIT 1)',
      [keep],
    );
  }

  async listEquivocations(channelId?: Uint8Array): Promise<(EquivocationRow & { id: bigint })[]> {
    const rows = channelId
      ? await this.rows('SELECT * FROM equivocations WHERE channel_id = $1 ORDER BY id', [buf(channelId)])
      : await this.rows('SELECT * FROM equivocations ORDER BY id');
    return rows.map((r) => ({
      id: big(r.id),
      channelId: u8(r.channel_id),
      seq: big(r.seq),
      storedHash: u8(r.stored_hash),
      segment: u8(r.segment),
      detectedAtMs: big(r.detected_at_ms),
    }));
  }

  async countEquivocations(): Promise<number> {
    return Number((await this.rows('SELECT count(*) AS n FROM equivocations'))[0]!.n);
  }

  async lastEpoch(): Promise<EpochRow | undefined> {
    const r = (await this.rows('SELECT * FROM epochs ORDER BY epoch DESC LIMIT 1'))[0];
    return r && toEpoch(r);
  }

  async getEpoch(epoch: bigint): Promise<EpochRow | undefined> {
    const r = (await this.rows('SELECT * FROM epochs WHERE epoch = $1', [str(epoch)]))[0];
    return r && toEpoch(r);
  }

  async listEpochs(): Promise<EpochRow[]> {
    return (await this.rows('SELECT * FROM epochs ORDER BY epoch')).map(toEpoch);
  }

  async epochEntries(epoch: bigint): Promise<EntryRow[]> {
    return (await this.rows('SELECT * FROM settlement_entries WHERE epoch = $1 ORDER BY channel_id', [str(epoch)])).map(
      (r) => ({ epoch: big(r.epoch), channelId: u8(r.channel_id), entry: u8(r.entry), toSeq: big(r.to_seq) }),
    );
  }

  async closeEpoch(close: EpochClose): Promise<void> {
    await this.tx(async (c) => {
      const e = close.epoch;
      await c.query(
        `INSERT INTO epochs (epoch, closed_at_ms, record, signature, root, entry_count, total_delta_amount)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          str(e.epoch),
          str(e.closedAtMs),
          buf(e.record),
          buf(e.signature),
          buf(e.root),
          e.entryCount,
          str(e.totalDeltaAmount),
        ],
      );
      const x = close.entries;
      if (x.length > 0) {
        await c.query(
          `INSERT INTO settlement_entries (epoch, channel_id, entry, to_seq)
           SELECT * FROM UNNEST($1::int8[], $2::bytea[], $3::bytea[], $4::int8[])`,
          [
            x.map((y) => str(y.epoch)),
            x.map((y) => buf(y.channelId)),
            x.map((y) => buf(y.entry)),
            x.map((y) => str(y.toSeq)),
          ],
        );
      }
      const s = close.settled;
      if (s.length > 0) {
        const moved = await c.query(
          `UPDATE channels c SET settled_seq = u.seq, settled_hash = u.hash, settled_units = u.units,
             settled_amount = u.amount
           FROM UNNEST($1::bytea[], $2::int8[], $3::int8[], $4::bytea[], $5::numeric[], $6::numeric[])
             AS u(id, expected, seq, hash, units, amount)
           WHERE c.channel_id = u.id AND c.settled_seq = u.expected`,
          [
            s.map((y) => buf(y.channelId)),
            s.map((y) => str(y.expectedSettledSeq)),
            s.map((y) => str(y.head.seq)),
            s.map((y) => buf(y.head.hash)),
            s.map((y) => str(y.head.cumUnits)),
            s.map((y) => str(y.head.cumAmount)),
          ],
        );
        if (moved.rowCount !== s.length) {
          throw new StoreConflictError(`settled guard failed for ${s.length - (moved.rowCount ?? 0)} channel(s)`);
        }
      }
      await insertEvents(c, close.events ?? []);
    });
  }

  async unanchoredEpochs(limit: number): Promise<EpochRow[]> {
    return (await this.rows('SELECT * FROM epochs WHERE anchor IS NULL ORDER BY epoch LIMIT $1', [limit])).map(toEpoch);
  }

  async anchorStatus(): Promise<{ pending: number; lastAnchored: bigint | null }> {
    const [r] = await this.rows(`SELECT (SELECT count(*) FROM epochs WHERE anchor IS NULL) AS pending,
      (SELECT max(epoch) FROM epochs WHERE anchor IS NOT NULL) AS last`);
    return { pending: Number(r!.pending), lastAnchored: r!.last === null ? null : big(r!.last) };
  }

  async epochAnchor(epoch: bigint): Promise<string | undefined> {
    const [r] = await this.rows('SELECT anchor FROM epochs WHERE epoch = $1', [str(epoch)]);
    return (r?.anchor as string | null | undefined) ?? undefined;
  }

  async setEpochAnchor(epoch: bigint, anchor: string): Promise<void> {
    await this.pool.query('UPDATE epochs SET anchor = $1 WHERE epoch = $2 AND anchor IS NULL', [anchor, str(epoch)]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
