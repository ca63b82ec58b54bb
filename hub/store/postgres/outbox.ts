// PostgreSQL implementation of the webhook outbox (OutboxStore). `insertEvents` runs on the client
// of whichever transaction the store is in (the group commit, a management operation, the epoch
// close), so an event is durable exactly when its cause is. Several hubs may run the delivery loop
// on one database: claimDue locks what it takes with FOR UPDATE SKIP LOCKED and leases it, so two
// loops never send the same delivery at once.

import type pg from 'pg';
import type {
  ClaimQuery,
  DeliveryJob,
  DeliveryOutcome,
  DeliveryRow,
  DeliveryState,
  OutboxEvent,
  OutboxStore,
  SubscriptionRow,
} from '../outbox-types.js';
import { DELIVERY_COLUMNS, encodeTypes, toDelivery, toSubscription } from '../outbox-rows.js';
import { asBuffer as buf, big, type Row } from '../rows.js';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

const str = (v: bigint | number): string => v.toString();

/**
 * Writes events and fans each one out to the subscriptions that want its type, in one statement on
 * the caller's transaction. An id already written keeps its first row and gets no new deliveries,
 * so a cause replayed after a crash cannot send a second event. Deliveries get ids in event order,
 * then subscription order, as on SQLite (claims break ties on the id).
 */
export async function insertEvents(c: Queryable, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  await c.query(
    `WITH e AS (
       SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[]) WITH ORDINALITY AS u(id, type, payload, at, n)
     ), ins AS (
       INSERT INTO webhook_events (id, type, payload, created_at_ms)
       SELECT id, type, payload, at FROM e ORDER BY n
       ON CONFLICT (id) DO NOTHING RETURNING id
     )
     INSERT INTO webhook_deliveries (event_id, subscription_id, state, next_attempt_at_ms, created_at_ms)
     SELECT e.id, s.id, 'pending', e.at, e.at
     FROM e JOIN ins ON ins.id = e.id
       JOIN webhook_subscriptions s ON s.events = '*' OR position(',' || e.type || ',' IN s.events) > 0
     ORDER BY e.n, s.id
     ON CONFLICT (event_id, subscription_id) DO NOTHING`,
    [
      events.map((e) => e.id),
      events.map((e) => e.type),
      events.map((e) => e.payload),
      events.map((e) => str(e.createdAtMs)),
    ],
  );
}

export class PostgresOutbox implements OutboxStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly tx: <T>(work: (c: pg.PoolClient) => Promise<T>) => Promise<T>,
  ) {}

  private async rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, params)).rows as Row[];
  }

  async appendEvents(events: OutboxEvent[]): Promise<void> {
    await insertEvents(this.pool, events);
  }

  async addSubscription(s: {
    url: string;
    events: string[];
    secret: string;
    createdAtMs: bigint;
  }): Promise<SubscriptionRow> {
    const [r] = await this.rows(
      'INSERT INTO webhook_subscriptions (url, events, secret, created_at_ms) VALUES ($1, $2, $3, $4) RETURNING *',
      [s.url, encodeTypes(s.events), s.secret, str(s.createdAtMs)],
    );
    return toSubscription(r!);
  }

  async listSubscriptions(): Promise<SubscriptionRow[]> {
    return (await this.rows('SELECT * FROM webhook_subscriptions ORDER BY id')).map(toSubscription);
  }

  async removeSubscription(id: bigint): Promise<boolean> {
    return this.tx(async (c) => {
      await c.query('DELETE FROM webhook_deliveries WHERE subscription_id = $1', [str(id)]);
      return (await c.query('DELETE FROM webhook_subscriptions WHERE id = $1', [str(id)])).rowCount === 1;
    });
  }

  async claimDue(q: ClaimQuery): Promise<DeliveryJob[]> {
    if (q.limit <= 0) return [];
    // One statement, so one transaction: lock the due rows no other loop holds (SKIP LOCKED), keep
    // the oldest within the per-subscription budget (less those in flight), lease them. The final
    // SELECT reads the snapshot from before the lease, so jobs carry the attempt time they were due.
    const busy = [...q.busy];
    const rows = await this.rows(
      `WITH due AS (
         SELECT id, subscription_id, next_attempt_at_ms FROM webhook_deliveries
         WHERE state = 'pending' AND next_attempt_at_ms <= $1
         FOR UPDATE SKIP LOCKED
       ), ranked AS (
         SELECT due.*, row_number() OVER (PARTITION BY subscription_id ORDER BY next_attempt_at_ms, id) AS rn FROM due
       ), picked AS (
         SELECT r.id FROM ranked r LEFT JOIN UNNEST($2::int8[], $3::int8[]) AS b(sub, n) ON b.sub = r.subscription_id
         WHERE r.rn + coalesce(b.n, 0) <= $4 ORDER BY r.next_attempt_at_ms, r.id LIMIT $5
       ), leased AS (
         UPDATE webhook_deliveries w SET next_attempt_at_ms = $6 FROM picked WHERE w.id = picked.id RETURNING w.id
       )
       SELECT ${DELIVERY_COLUMNS}, e.payload, s.url, s.secret
       FROM leased JOIN webhook_deliveries d ON d.id = leased.id JOIN webhook_events e ON e.id = d.event_id
         JOIN webhook_subscriptions s ON s.id = d.subscription_id
       ORDER BY d.next_attempt_at_ms, d.id`,
      [
        str(q.nowMs),
        busy.map(([k]) => str(k)),
        busy.map(([, v]) => str(v)),
        q.perSubscription,
        q.limit,
        str(q.leaseUntilMs),
      ],
    );
    return rows.map((r) => ({
      ...toDelivery(r),
      payload: r.payload as string,
      url: r.url as string,
      secret: r.secret as string,
    }));
  }

  async recordAttempt(o: DeliveryOutcome): Promise<void> {
    await this.pool.query(
      `UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, next_attempt_at_ms = $2,
         last_attempt_at_ms = $3, last_status = $4, last_error = $5, delivered_at_ms = $6
       WHERE id = $7 AND state = 'pending'`,
      [
        o.state === 'retry' ? 'pending' : o.state,
        str(o.nextAttemptAtMs ?? o.atMs),
        str(o.atMs),
        o.status,
        o.error,
        o.state === 'delivered' ? str(o.atMs) : null,
        str(o.id),
      ],
    );
  }

  async nextDueAtMs(): Promise<bigint | undefined> {
    const [r] = await this.rows(`SELECT min(next_attempt_at_ms) AS at FROM webhook_deliveries WHERE state = 'pending'`);
    return r!.at === null ? undefined : big(r!.at);
  }

  async listDeliveries(q: {
    state?: DeliveryState;
    limit: number;
    eventId?: string;
    id?: bigint;
  }): Promise<DeliveryRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const filter = (column: string, arg: unknown) => {
      args.push(arg);
      where.push(`${column} = $${args.length}`);
    };
    if (q.state) filter('d.state', q.state);
    if (q.eventId) filter('d.event_id', q.eventId);
    if (q.id !== undefined) filter('d.id', str(q.id));
    args.push(q.limit);
    const sql = `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
      ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY d.id DESC LIMIT $${args.length}`;
    return (await this.rows(sql, args)).map(toDelivery);
  }

  async retryDelivery(id: bigint, nowMs: bigint): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at_ms = $1, delivered_at_ms = NULL
       WHERE id = $2`,
      [str(nowMs), str(id)],
    );
    return r.rowCount === 1;
  }

  async countDeliveries(): Promise<Record<DeliveryState, number>> {
    const out: Record<DeliveryState, number> = { pending: 0, delivered: 0, dead: 0 };
    for (const r of await this.rows('SELECT state, count(*) AS n FROM webhook_deliveries GROUP BY state'))
      out[r.state as DeliveryState] = Number(r.n);
    return out;
  }

  async setThreshold(channelId: Uint8Array, lowCapacity: string | null): Promise<void> {
    if (lowCapacity === null)
      await this.pool.query('DELETE FROM webhook_thresholds WHERE channel_id = $1', [buf(channelId)]);
    else
      await this.pool.query(
        `INSERT INTO webhook_thresholds (channel_id, low_capacity) VALUES ($1, $2)
         ON CONFLICT (channel_id) DO UPDATE SET low_capacity = excluded.low_capacity`,
        [buf(channelId), lowCapacity],
      );
  }

  async listThresholds(): Promise<{ channelId: Uint8Array; lowCapacity: string }[]> {
    return (await this.rows('SELECT * FROM webhook_thresholds ORDER BY channel_id')).map((r) => ({
      channelId: r.channel_id as Buffer,
      lowCapacity: r.low_capacity as string,
    }));
  }

  async prune(beforeMs: bigint): Promise<void> {
    await this.tx(async (c) => {
      await c.query(`DELETE FROM webhook_deliveries WHERE state = 'delivered' AND delivered_at_ms < $1`, [
        str(beforeMs),
      ]);
      await c.query(
        `DELETE FROM webhook_events e WHERE e.created_at_ms < $1
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)`,
        [str(beforeMs)],
      );
    });
  }
}
