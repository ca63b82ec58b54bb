// Reconnect delays: exponential backoff with FULL jitter (delay uniformly drawn from
// [0, min(max, min * 2^attempt)]). Full jitter spreads a fleet that lost its broker at the same
// moment over the whole window instead of reconnecting in synchronized waves, which a fixed
// reconnect period (MQTT.js's default) does.

export interface BackoffOptions {
  readonly minMs: number;
  readonly maxMs: number;
  /** Uniform in [0, 1); injectable so tests and the simulator can seed it. */
  readonly random?: () => number;
}

/** The ceiling of attempt n (0-based): min(maxMs, minMs * 2^n), without overflowing. */
export function backoffCeiling(attempt: number, minMs: number, maxMs: number): number {
  if (attempt >= 52) return maxMs;
  return Math.min(maxMs, minMs * 2 ** attempt);
}

/** A delay for attempt n, uniformly drawn in [0, ceiling]. */
export function fullJitterDelay(attempt: number, opts: BackoffOptions): number {
  const random = opts.random ?? Math.random;
  const ceiling = backoffCeiling(attempt, opts.minMs, opts.maxMs);
  return Math.floor(random() * (ceiling + 1));
}

/** Counts failed attempts; reset() after a connection that worked. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {}
  next(): number {
    const delay = fullJitterDelay(this.attempt, this.opts);
    this.attempt += 1;
    return delay;
  }
  reset(): void {
    this.attempt = 0;
  }
  get attempts(): number {
    return this.attempt;
  }
}
