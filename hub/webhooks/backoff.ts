// When a failed delivery is tried again: exponential backoff with full jitter (a random wait up to
// min(max, base * 2^(n-1)) after failure n), so receivers that come back are not hit by every
// hub's retries at once; and when it stops: a dead letter after `maxAttempts` failures or once the
// event is `maxAgeMs` old.

export interface RetryPolicy {
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  maxAgeMs: number;
}

/** The wait after the n-th failed attempt (n >= 1); `random` in [0, 1). */
export function retryDelayMs(p: RetryPolicy, failures: number, random: () => number = Math.random): number {
  const exp = Math.min(p.retryMaxMs, p.retryBaseMs * 2 ** Math.min(failures - 1, 52));
  return Math.floor(random() * exp);
}

/** What follows the n-th failed attempt: another at `atMs`, or the dead-letter list. */
export function afterFailure(
  p: RetryPolicy,
  failures: number,
  createdAtMs: number,
  nowMs: number,
  random: () => number = Math.random,
): { state: 'retry'; atMs: number } | { state: 'dead' } {
  if (failures >= p.maxAttempts) return { state: 'dead' };
  const atMs = nowMs + retryDelayMs(p, failures, random);
  return atMs - createdAtMs >= p.maxAgeMs ? { state: 'dead' } : { state: 'retry', atMs };
}
