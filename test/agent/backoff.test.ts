import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff, backoffCeiling, fullJitterDelay } from '../../agent/backoff.js';

describe('backoff with full jitter', () => {
  it('doubles the ceiling up to the maximum', () => {
    expect([0, 1, 2, 3, 10, 60, 1000].map((n) => backoffCeiling(n, 100, 5000))).toEqual([
      100, 200, 400, 800, 5000, 5000, 5000,
    ]);
  });

  it('draws every delay within [0, ceiling]', () => {
    fc.assert(
      fc.property(
        fc.nat(200),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, min, extra, r) => {
          const max = min + extra;
          const d = fullJitterDelay(attempt, { minMs: min, maxMs: max, random: () => r });
          return Number.isInteger(d) && d >= 0 && d <= backoffCeiling(attempt, min, max);
        },
      ),
    );
  });

  it('spans the whole window (full jitter, not a fixed period) and resets after success', () => {
    const low = new Backoff({ minMs: 100, maxMs: 10_000, random: () => 0 });
    expect([low.next(), low.next(), low.next()]).toEqual([0, 0, 0]);
    const high = new Backoff({ minMs: 100, maxMs: 10_000, random: () => 0.999999 });
    expect([high.next(), high.next(), high.next()]).toEqual([100, 200, 400]);
    high.reset();
    expect(high.attempts).toBe(0);
    expect(high.next()).toBe(100);
  });
});
