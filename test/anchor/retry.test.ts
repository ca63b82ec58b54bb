// The publisher's retry loop, without a chain: full-jitter bounds, polling, giving up, fatal errors
// and abort.
import { describe, expect, it } from 'vitest';
import { AnchorError } from '../../hub/anchor/index.js';
import { jitterDelay, untilDone } from '../../hub/anchor/retry.js';

const policy = { minMs: 1, maxMs: 4, maxAttempts: 3 };
const hooks = { pollMs: 0, isFatal: (err: unknown) => err instanceof AnchorError };

describe('retry', () => {
  it('draws delays uniformly in [0, min(max, min * 2^n)]', () => {
    const p = { minMs: 100, maxMs: 1_000, maxAttempts: Infinity };
    expect(jitterDelay(0, { ...p, random: () => 0 })).toBe(0);
    expect(jitterDelay(0, { ...p, random: () => 0.999999 })).toBe(100);
    expect(jitterDelay(3, { ...p, random: () => 0.999999 })).toBe(800);
    expect(jitterDelay(4, { ...p, random: () => 0.999999 })).toBe(1_000);
    expect(jitterDelay(10_000, { ...p, random: () => 0.999999 })).toBe(1_000);
  });

  it('polls a step that has no result yet, and retries one that fails, until it yields', async () => {
    const script = ['fail', 'wait', 'fail', 'fail', 'wait', 'done'];
    const retries: number[] = [];
    const result = await untilDone(
      async () => {
        const next = script.shift();
        if (next === 'fail') throw new Error('transient');
        return next === 'done' ? 'mined' : undefined;
      },
      policy,
      { ...hooks, onRetry: (attempt) => retries.push(attempt) },
    );
    expect(result).toBe('mined');
    // A step that returns resets the count of consecutive failures.
    expect(retries).toEqual([1, 1, 2]);
  });

  it('gives up after maxAttempts consecutive failures with ANCHOR_GAVE_UP and the last error', async () => {
    const failing = untilDone(
      async () => {
        throw new Error('connection refused');
      },
      policy,
      hooks,
    );
    await expect(failing).rejects.toMatchObject({ code: 'ANCHOR_GAVE_UP' });
    await expect(failing).rejects.toThrow(/connection refused/);
  });

  it('passes a fatal error through at once', async () => {
    let calls = 0;
    const conflict = untilDone(
      async () => {
        calls += 1;
        throw new AnchorError('ANCHOR_CONFLICT');
      },
      policy,
      hooks,
    );
    await expect(conflict).rejects.toMatchObject({ code: 'ANCHOR_CONFLICT' });
    expect(calls).toBe(1);
  });

  it('stops when aborted, naming the reason and the last error', async () => {
    const controller = new AbortController();
    const stopped = untilDone(
      async () => {
        controller.abort(new Error('shutting down'));
        throw new Error('HTTP 503');
      },
      { minMs: 10_000, maxMs: 10_000, maxAttempts: Infinity },
      { ...hooks, signal: controller.signal },
    );
    await expect(stopped).rejects.toMatchObject({ code: 'ANCHOR_GAVE_UP' });
    await expect(stopped).rejects.toThrow(/shutting down; last error: HTTP 503/);
  });
});
