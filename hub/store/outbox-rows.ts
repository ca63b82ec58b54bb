// Webhook outbox rows to their types, for both stores (the same columns on SQLite and PostgreSQL).
import type { DeliveryRow, DeliveryState, SubscriptionRow } from './outbox-types.js';
import { big, bigOrNull, type Row } from './rows.js';

/** ',a,b,' so a search for ',type,' matches whole names (instr on SQLite, position on
 *  PostgreSQL); '*' for every type. */
export const encodeTypes = (events: string[]): string => (events.includes('*') ? '*' : `,${events.join(',')},`);
export const decodeTypes = (text: string): string[] => (text === '*' ? ['*'] : text.split(',').filter(Boolean));

export function toSubscription(r: Row): SubscriptionRow {
  return {
    id: big(r.id),
    url: r.url as string,
    events: decodeTypes(r.events as string),
    secret: r.secret as string,
    createdAtMs: big(r.created_at_ms),
  };
}

export function toDelivery(r: Row): DeliveryRow {
  return {
    id: big(r.id),
    eventId: r.event_id as string,
    eventType: r.type as string,
    subscriptionId: big(r.subscription_id),
    state: r.state as DeliveryState,
    attempts: Number(r.attempts),
    nextAttemptAtMs: big(r.next_attempt_at_ms),
    lastAttemptAtMs: bigOrNull(r.last_attempt_at_ms),
    lastStatus: r.last_status === null ? null : Number(r.last_status),
    lastError: (r.last_error as string | null) ?? null,
    createdAtMs: big(r.created_at_ms),
    deliveredAtMs: bigOrNull(r.delivered_at_ms),
  };
}

/** The columns toDelivery reads, from webhook_deliveries d joined with webhook_events e. */
export const DELIVERY_COLUMNS = `d.id, d.event_id, e.type, d.subscription_id, d.state, d.attempts, d.next_attempt_at_ms,
  d.last_attempt_at_ms, d.last_status, d.last_error, d.created_at_ms, d.delivered_at_ms`;
