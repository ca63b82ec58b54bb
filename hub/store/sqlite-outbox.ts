// SQLite implementation of the webhook outbox (OutboxStore), on the hub store's own connection:
// `insertEvents` runs inside whichever transaction the store is in (the group commit, a
// management operation, the epoch close), so an event is durable exactly when its cause is.

import type Database from 'better-sqlite3';
import type {
  ClaimQuery,
  DeliveryJob,
  DeliveryOutcome,
  DeliveryRow,
  DeliveryState,
  OutboxEvent,
  OutboxStore,
  SubscriptionRow,
} from './outbox-types.js';
import { DELIVERY_COLUMNS, encodeTypes, toDelivery, toSubscription } from './outbox-rows.js';
import { asBuffer as blob, big, type Row } from './rows.js';

export class SqliteOutbox implements OutboxStore {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insertEvent: p('INSERT OR IGNORE INTO webhook_events (id, type, payload, created_at_ms) VALUES (?, ?, ?, ?)'),
      // The fan-out, in the same transaction: one delivery per subscription that wants the type.
      fanOut: p(`INSERT OR IGNORE INTO webhook_deliveries (event_id, subscription_id, state, next_attempt_at_ms,
        created_at_ms) SELECT ?, id, 'pending', ?, ? FROM webhook_subscriptions
        WHERE events = '*' OR instr(events, ',' || ? || ',') > 0`),
      addSubscription: p('INSERT INTO webhook_subscriptions (url, events, secret, created_at_ms) VALUES (?, ?, ?, ?)'),
      getSubscription: p('SELECT * FROM webhook_subscriptions WHERE id = ?'),
      listSubscriptions: p('SELECT * FROM webhook_subscriptions ORDER BY id'),
      removeSubscription: p('DELETE FROM webhook_subscriptions WHERE id = ?'),
      removeDeliveriesOf: p('DELETE FROM webhook_deliveries WHERE subscription_id = ?'),
      // Due deliveries, oldest first, at most `perSubscription` less those in flight per subscription
      // (a hung receiver holds a few slots, never all of them).
      due: p(`SELECT t.* FROM (SELECT ${DELIVERY_COLUMNS}, e.payload, s.url, s.secret,
          row_number() OVER (PARTITION BY d.subscription_id ORDER BY d.next_attempt_at_ms, d.id) AS rn
        FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
        JOIN webhook_subscriptions s ON s.id = d.subscription_id
        WHERE d.state = 'pending' AND d.next_attempt_at_ms <= ?) t
        LEFT JOIN json_each(?) b ON b.key = CAST(t.subscription_id AS TEXT)
        WHERE t.rn + coalesce(b.value, 0) <= ? ORDER BY t.next_attempt_at_ms, t.id LIMIT ?`),
      lease: p('UPDATE webhook_deliveries SET next_attempt_at_ms = ? WHERE id = ?'),
      record: p(`UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, next_attempt_at_ms = ?,
        last_attempt_at_ms = ?, last_status = ?, last_error = ?, delivered_at_ms = ? WHERE id = ? AND state = 'pending'`),
      nextDue: p(`SELECT min(next_attempt_at_ms) AS at FROM webhook_deliveries WHERE state = 'pending'`),
      retry: p(`UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at_ms = ?,
        delivered_at_ms = NULL WHERE id = ?`),
      count: p('SELECT state, count(*) AS n FROM webhook_deliveries GROUP BY state'),
      pruneDeliveries: p(`DELETE FROM webhook_deliveries WHERE state = 'delivered' AND delivered_at_ms < ?`),
      pruneEvents: p(`DELETE FROM webhook_events WHERE created_at_ms < ?
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)`),
      setThreshold: p(`INSERT INTO webhook_thresholds (channel_id, low_capacity) VALUES (?, ?)
        ON CONFLICT(channel_id) DO UPDATE SET low_capacity = excluded.low_capacity`),
      clearThreshold: p('DELETE FROM webhook_thresholds WHERE channel_id = ?'),
      listThresholds: p('SELECT * FROM webhook_thresholds ORDER BY channel_id'),
    };
  }

  /** Inside the caller's transaction. An event id already written is kept as it was (and not fanned
   *  out again), so a cause replayed after a crash cannot send a second event. */
  insertEvents(events: readonly OutboxEvent[]): number {
    let written = 0;
    for (const e of events) {
      if (this.s.insertEvent.run(e.id, e.type, e.payload, e.createdAtMs).changes !== 1) continue;
      this.s.fanOut.run(e.id, e.createdAtMs, e.createdAtMs, e.type);
      written++;
    }
    return written;
  }

  async appendEvents(events: OutboxEvent[]): Promise<void> {
    this.db.transaction(() => this.insertEvents(events))();
  }

  async addSubscription(s: {
    url: string;
    events: string[];
    secret: string;
    createdAtMs: bigint;
  }): Promise<SubscriptionRow> {
    const info = this.s.addSubscription.run(s.url, encodeTypes(s.events), s.secret, s.createdAtMs);
    return toSubscription(this.s.getSubscription.get(info.lastInsertRowid) as Row);
  }

  async listSubscriptions(): Promise<SubscriptionRow[]> {
    return (this.s.listSubscriptions.all() as Row[]).map(toSubscription);
  }

  async removeSubscription(id: bigint): Promise<boolean> {
    return this.db.transaction(() => {
      this.s.removeDeliveriesOf.run(id);
      return this.s.removeSubscription.run(id).changes === 1;
    })();
  }

  async claimDue(q: ClaimQuery): Promise<DeliveryJob[]> {
    if (q.limit <= 0) return [];
    return this.db.transaction(() => {
      const busy = JSON.stringify(Object.fromEntries([...q.busy].map(([k, v]) => [String(k), v])));
      const rows = this.s.due.all(q.nowMs, busy, q.perSubscription, q.limit) as Row[];
      for (const r of rows) this.s.lease.run(q.leaseUntilMs, r.id);
      return rows.map((r) => ({
        ...toDelivery(r),
        payload: r.payload as string,
        url: r.url as string,
        secret: r.secret as string,
      }));
    })();
  }

  async recordAttempt(o: DeliveryOutcome): Promise<void> {
    const state = o.state === 'retry' ? 'pending' : o.state;
    this.s.record.run(
      state,
      o.nextAttemptAtMs ?? o.atMs,
      o.atMs,
      o.status,
      o.error,
      o.state === 'delivered' ? o.atMs : null,
      o.id,
    );
  }

  async nextDueAtMs(): Promise<bigint | undefined> {
    const at = (this.s.nextDue.get() as Row).at;
    return at === null ? undefined : big(at);
  }

  async listDeliveries(q: {
    state?: DeliveryState;
    limit: number;
    eventId?: string;
    id?: bigint;
  }): Promise<DeliveryRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.state) {
      where.push('d.state = ?');
      args.push(q.state);
    }
    if (q.eventId) {
      where.push('d.event_id = ?');
      args.push(q.eventId);
    }
    if (q.id !== undefined) {
      where.push('d.id = ?');
      args.push(q.id);
    }
    const sql = `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
      ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY d.id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit) as Row[]).map(toDelivery);
  }

  async retryDelivery(id: bigint, nowMs: bigint): Promise<boolean> {
    return this.s.retry.run(nowMs, id).changes === 1;
  }

  async countDeliveries(): Promise<Record<DeliveryState, number>> {
    const out: Record<DeliveryState, number> = { pending: 0, delivered: 0, dead: 0 };
    for (const r of this.s.count.all() as Row[]) out[r.state as DeliveryState] = Number(r.n);
    return out;
  }

  async setThreshold(channelId: Uint8Array, lowCapacity: string | null): Promise<void> {
    if (lowCapacity === null) this.s.clearThreshold.run(blob(channelId));
    else this.s.setThreshold.run(blob(channelId), lowCapacity);
  }

  async listThresholds(): Promise<{ channelId: Uint8Array; lowCapacity: string }[]> {
    return (this.s.listThresholds.all() as Row[]).map((r) => ({
      channelId: r.channel_id as Buffer,
      lowCapacity: r.low_capacity as string,
    }));
  }

  async prune(beforeMs: bigint): Promise<void> {
    this.db.transaction(() => {
      this.s.pruneDeliveries.run(beforeMs);
      this.s.pruneEvents.run(beforeMs);
    })();
  }
}
