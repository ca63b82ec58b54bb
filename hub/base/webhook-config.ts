// The webhook part of the hub's configuration (docs/webhooks.md): merged and validated once by
// resolveConfig, like the rest.

import type { ProblemList } from '../../common/config-error.js';

/** Every webhook event type (model/webhook-events.ts builds them). */
export const WEBHOOK_EVENT_TYPES = [
  'channel.low_capacity',
  'channel.exhausted',
  'channel.topped_up',
  'channel.closed',
  'epoch.settled',
  'device.equivocation',
  'device.offline',
  'device.revoked',
] as const;

export interface WebhookConfig {
  /** Default channel.low_capacity threshold: minor units ("5000") or a share of the capacity
   *  ("10%"); "off" or "0" for none. A channel may have its own. */
  readonly lowCapacity: string;
  /** A device disconnected this long (and not back) is device.offline. */
  readonly offlineAfterMs: number;
  /** Deliveries in flight at once, hub-wide and per subscription. */
  readonly concurrency: number;
  readonly perSubscription: number;
  /** One attempt's limit, from connecting to the end of the response. */
  readonly timeoutMs: number;
  /** A delivery becomes a dead letter after this many failed attempts, or this long after its
   *  event, whichever comes first. */
  readonly maxAttempts: number;
  readonly maxAgeMs: number;
  /** Retry n waits a random time up to min(retryMaxMs, retryBaseMs * 2^(n-1)) (full jitter). */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** How often the delivery loop looks for due deliveries when nothing wakes it. */
  readonly pollMs: number;
  /** Delivered deliveries and their events are deleted after this long. */
  readonly retentionMs: number;
}

export const WEBHOOK_DEFAULTS: WebhookConfig = {
  lowCapacity: '10%',
  offlineAfterMs: 5 * 60_000,
  concurrency: 8,
  perSubscription: 2,
  timeoutMs: 10_000,
  maxAttempts: 15,
  maxAgeMs: 3 * 86_400_000,
  retryBaseMs: 5_000,
  retryMaxMs: 3_600_000,
  pollMs: 1_000,
  retentionMs: 7 * 86_400_000,
};

export type Threshold = { kind: 'amount'; amount: bigint } | { kind: 'percent'; percent: bigint };

/** "5000" (minor units), "10%" (of the capacity, an integer 0..100), "off" (= "0"). */
export function parseThreshold(text: string): Threshold | undefined {
  const t = String(text).trim();
  const pct = /^(\d{1,3})%$/.exec(t);
  if (pct) {
    const percent = BigInt(pct[1]!);
    return percent <= 100n ? { kind: 'percent', percent } : undefined;
  }
  if (t === 'off') return { kind: 'amount', amount: 0n };
  if (/^\d{1,20}$/.test(t) && BigInt(t) < 1n << 64n) return { kind: 'amount', amount: BigInt(t) };
  return undefined;
}

export function resolveWebhookConfig(
  input: Partial<WebhookConfig> | undefined,
  problems: ProblemList,
  duration: (name: string, value: number | string, min: 0 | 1) => number,
): WebhookConfig {
  const i = { ...WEBHOOK_DEFAULTS, ...input };
  const int = (name: string, value: number, min: number): number => {
    if (!Number.isSafeInteger(value) || value < min) problems.add(`webhooks.${name} must be an integer >= ${min}`);
    return value;
  };
  if (parseThreshold(i.lowCapacity) === undefined)
    problems.add(`webhooks.lowCapacity must be minor units (5000), a share (10%) or off: ${i.lowCapacity}`);
  return Object.freeze({
    lowCapacity: String(i.lowCapacity).trim(),
    offlineAfterMs: duration('webhooks.offlineAfterMs', i.offlineAfterMs, 1),
    concurrency: int('concurrency', i.concurrency, 1),
    perSubscription: int('perSubscription', i.perSubscription, 1),
    timeoutMs: duration('webhooks.timeoutMs', i.timeoutMs, 1),
    maxAttempts: int('maxAttempts', i.maxAttempts, 1),
    maxAgeMs: duration('webhooks.maxAgeMs', i.maxAgeMs, 1),
    retryBaseMs: duration('webhooks.retryBaseMs', i.retryBaseMs, 1),
    retryMaxMs: duration('webhooks.retryMaxMs', i.retryMaxMs, 1),
    pollMs: duration('webhooks.pollMs', i.pollMs, 1),
    retentionMs: duration('webhooks.retentionMs', i.retentionMs, 1),
  });
}
