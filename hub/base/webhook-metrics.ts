// Prometheus metrics of webhook delivery (docs/webhooks.md). Every labelled series starts at zero,
// so the first failure or dead letter is a rise that rate() sees.

import { Counter, Gauge, type Registry } from 'prom-client';

export const DELIVERY_FAILURE_REASONS = ['status', 'timeout', 'network'] as const;
export type DeliveryFailureReason = (typeof DELIVERY_FAILURE_REASONS)[number];

export class WebhookMetrics {
  readonly delivered: Counter<'type'>;
  readonly failures: Counter<'reason'>;
  readonly deadLetters: Counter<'type'>;
  readonly inFlight: Gauge;
  #depth: (() => Promise<Record<'pending' | 'delivered' | 'dead', number>>) | undefined;

  constructor(registry: Registry, eventTypes: readonly string[]) {
    this.delivered = new Counter({
      name: 'tally_webhook_deliveries_total',
      help: 'Webhook deliveries a receiver acknowledged (2xx), by event type',
      labelNames: ['type'] as const,
      registers: [registry],
    });
    this.failures = new Counter({
      name: 'tally_webhook_delivery_failures_total',
      help: 'Failed webhook attempts, by reason (status: a non-2xx answer; timeout; network)',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    this.deadLetters = new Counter({
      name: 'tally_webhook_dead_letters_total',
      help: 'Webhook deliveries given up after the retry budget, by event type',
      labelNames: ['type'] as const,
      registers: [registry],
    });
    this.inFlight = new Gauge({
      name: 'tally_webhook_in_flight',
      help: 'Webhook requests in flight',
      registers: [registry],
    });
    const depth = () => this.#depth;
    new Gauge({
      name: 'tally_webhook_outbox',
      help: 'Webhook deliveries in the outbox by state: pending (the depth) and dead (dead letters kept)',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect(this: Gauge<'state'>) {
        const read = depth();
        const counts = read ? await read() : { pending: 0, dead: 0 };
        this.set({ state: 'pending' }, counts.pending);
        this.set({ state: 'dead' }, counts.dead);
      },
    });
    for (const type of eventTypes) {
      this.delivered.inc({ type }, 0);
      this.deadLetters.inc({ type }, 0);
    }
    for (const reason of DELIVERY_FAILURE_REASONS) this.failures.inc({ reason }, 0);
  }

  /** Feeds the outbox gauge from the database at scrape time. */
  watchOutbox(read: () => Promise<Record<'pending' | 'delivered' | 'dead', number>>): void {
    this.#depth = read;
  }
}
