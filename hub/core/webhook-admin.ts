// Webhook subscriptions, deliveries and dead letters as the API and the CLI manage them
// (docs/webhooks.md). Subscriptions apply to events written from then on; a dead letter is sent
// again with `retry`, which also replays a delivered one.

import { ApiError } from '../base/api-errors.js';
import { isEventType } from '../model/webhook-events.js';
import type { DeliveryRow, DeliveryState, OutboxStore, SubscriptionRow } from '../store/outbox-types.js';
import { newSecret, secretKey } from '../webhooks/sign.js';

export interface SubscriptionRequest {
  url: string;
  /** Event types, or ['*']. */
  events: string[];
  /** `whsec_...`; absent = a new one, shown once in the answer. */
  secret?: string;
}

export const subscriptionView = (s: SubscriptionRow) => ({
  id: s.id.toString(),
  url: s.url,
  events: s.events,
  createdAt: new Date(Number(s.createdAtMs)).toISOString(),
});

export const deliveryView = (d: DeliveryRow) => ({
  id: d.id.toString(),
  eventId: d.eventId,
  type: d.eventType,
  subscriptionId: d.subscriptionId.toString(),
  state: d.state,
  attempts: d.attempts,
  nextAttemptAt: d.state === 'pending' ? new Date(Number(d.nextAttemptAtMs)).toISOString() : null,
  lastAttemptAt: d.lastAttemptAtMs === null ? null : new Date(Number(d.lastAttemptAtMs)).toISOString(),
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  createdAt: new Date(Number(d.createdAtMs)).toISOString(),
  deliveredAt: d.deliveredAtMs === null ? null : new Date(Number(d.deliveredAtMs)).toISOString(),
});

const DELIVERY_STATES: readonly string[] = ['pending', 'delivered', 'dead'];

/** An http(s) URL with a host and no credentials in it (they would be logged and listed). */
function checkUrl(text: unknown): string {
  if (typeof text !== 'string' || text.length > 2048) throw new ApiError('API_INVALID', 'url must be an http(s) URL');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ApiError('API_INVALID', `url is not a URL: ${text}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ApiError('API_INVALID', 'url must be http:// or https://');
  if (url.username || url.password) throw new ApiError('API_INVALID', 'url must not carry a user or password');
  return url.toString();
}

export function parseSubscriptionBody(body: unknown): SubscriptionRequest {
  if (!body || typeof body !== 'object') throw new ApiError('API_INVALID', 'send {"url", "events", "secret"?}');
  const o = body as Record<string, unknown>;
  const events = typeof o.events === 'string' ? o.events.split(',') : o.events;
  if (!Array.isArray(events) || events.length === 0 || events.some((e) => typeof e !== 'string'))
    throw new ApiError('API_INVALID', 'events must be a list of event types (or "*")');
  const types = [...new Set((events as string[]).map((e) => e.trim()))];
  for (const t of types)
    if (t !== '*' && !isEventType(t)) throw new ApiError('API_INVALID', `unknown event type: ${t}`);
  if (o.secret !== undefined && (typeof o.secret !== 'string' || !secretKey(o.secret)))
    throw new ApiError('API_INVALID', 'secret must be whsec_ followed by base64 of 24..64 bytes');
  return { url: checkUrl(o.url), events: types, ...(typeof o.secret === 'string' ? { secret: o.secret.trim() } : {}) };
}

export class WebhookAdmin {
  constructor(
    private readonly outbox: OutboxStore,
    private readonly now: () => number,
  ) {}

  /** Adds a subscription (checked here, whoever calls); the answer carries the secret, the only
   *  time it is shown. */
  async add(input: SubscriptionRequest) {
    const req = parseSubscriptionBody(input);
    const secret = req.secret ?? newSecret();
    const row = await this.outbox.addSubscription({
      url: req.url,
      events: req.events,
      secret,
      createdAtMs: BigInt(this.now()),
    });
    return { ...subscriptionView(row), secret };
  }

  async list() {
    return (await this.outbox.listSubscriptions()).map(subscriptionView);
  }

  async remove(id: string) {
    if (!/^\d{1,18}$/.test(id)) throw new ApiError('API_INVALID', 'subscription id must be a number');
    if (!(await this.outbox.removeSubscription(BigInt(id))))
      throw new ApiError('API_NOT_FOUND', `no subscription ${id}`);
    return { id, removed: true };
  }

  async deliveries(q: { state?: string; limit?: number; eventId?: string }) {
    if (q.state !== undefined && !DELIVERY_STATES.includes(q.state))
      throw new ApiError('API_INVALID', 'state is pending, delivered or dead');
    const rows = await this.outbox.listDeliveries({
      limit: Math.min(Math.max(q.limit ?? 100, 1), 10_000),
      ...(q.state ? { state: q.state as DeliveryState } : {}),
      ...(q.eventId ? { eventId: q.eventId } : {}),
    });
    return { counts: await this.outbox.countDeliveries(), deliveries: rows.map(deliveryView) };
  }

  async retry(id: string) {
    if (!/^\d{1,18}$/.test(id)) throw new ApiError('API_INVALID', 'delivery id must be a number');
    if (!(await this.outbox.retryDelivery(BigInt(id), BigInt(this.now()))))
      throw new ApiError('API_NOT_FOUND', `no delivery ${id}`);
    const [row] = await this.outbox.listDeliveries({ limit: 1, id: BigInt(id) });
    return row ? deliveryView(row) : { id };
  }
}
