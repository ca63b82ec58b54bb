// Runs a step until it yields a result: a step that returns undefined is polled again after pollMs;
// one that throws is retried after exponential backoff with FULL jitter (the delay drawn uniformly
// in [0, min(max, min * 2^n)]), so hubs that lost the same RPC endpoint do not come back in step.
// Consecutive failures count against maxAttempts; a step that returns resets the count. Fatal
// errors (isFatal) and an abort end the loop at once.

import { setTimeout as sleep } from 'node:timers/promises';
import { AnchorError } from './codes.js';

export interface RetryPolicy {
  minMs: number;
  maxMs: number;
  /** Consecutive failed steps before giving up (ANCHOR_GAVE_UP); Infinity retries for ever. */
  maxAttempts: number;
  /** Uniform in [0, 1); injectable for seeded tests. */
  random?: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = { minMs: 500, maxMs: 30_000, maxAttempts: Infinity };

export function jitterDelay(attempt: number, policy: RetryPolicy): number {
  const ceiling = Math.min(policy.maxMs, policy.minMs * 2 ** Math.min(attempt, 52));
  return Math.floor((policy.random ?? Math.random)() * (ceiling + 1));
}

export interface RetryHooks {
  pollMs: number;
  signal?: AbortSignal;
  isFatal: (err: unknown) => boolean;
  onRetry?: (attempt: number, delayMs: number, err: unknown) => void;
}

export async function untilDone<T>(
  step: () => Promise<T | undefined>,
  policy: RetryPolicy,
  hooks: RetryHooks,
): Promise<T> {
  let failures = 0;
  let lastError: unknown;
  const aborted = () => {
    const reason = (hooks.signal?.reason as Error | undefined)?.message ?? 'aborted';
    const last = lastError === undefined ? '' : `; last error: ${describe(lastError)}`;
    return new AnchorError('ANCHOR_GAVE_UP', `${reason}${last}`);
  };
  for (;;) {
    if (hooks.signal?.aborted) throw aborted();
    let delay = hooks.pollMs;
    try {
      const result = await step();
      if (result !== undefined) return result;
      failures = 0;
    } catch (err) {
      if (hooks.isFatal(err)) throw err;
      lastError = err;
      failures += 1;
      if (failures >= policy.maxAttempts)
        throw new AnchorError('ANCHOR_GAVE_UP', `${failures} attempts; last: ${describe(err)}`);
      delay = jitterDelay(failures - 1, policy);
      hooks.onRetry?.(failures, delay, err);
    }
    try {
      await sleep(delay, undefined, hooks.signal ? { signal: hooks.signal } : {});
    } catch {
      throw aborted();
    }
  }
}

/** A one-line account of an error, for events and logs (viem's messages run to many lines). */
export function describe(err: unknown): string {
  const e = err as { shortMessage?: string; message?: string; details?: string };
  const text = (e.shortMessage ?? e.message ?? String(err)).split('\n')[0]!;
  return e.details && !text.includes(e.details) ? `${text} (${e.details})` : text;
}
