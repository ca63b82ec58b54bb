import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../protocol/crypto/key-cache.js';

describe('BoundedCache', () => {
  it('creates on a miss and reuses on a hit', () => {
    const cache = new BoundedCache<object>(4);
    let made = 0;
    const make = () => ({ n: ++made });
    const first = cache.getOrCreate('a', make);
    expect(cache.getOrCreate('a', make)).toBe(first);
    expect(made).toBe(1);
  });

  it('evicts the least recently used entry when full', () => {
    const cache = new BoundedCache<string>(2);
    cache.getOrCreate('a', () => 'A');
    cache.getOrCreate('b', () => 'B');
    cache.getOrCreate('a', () => 'A2'); // touch a: b is now the oldest
    cache.getOrCreate('c', () => 'C');
    expect(cache.size).toBe(2);
    expect(cache.has('a')).toBe(true);
    expect(cache.has('b')).toBe(false);
    expect(cache.has('c')).toBe(true);
    expect(cache.getOrCreate('a', () => 'A3')).toBe('A');
  });

  it('refuses a capacity that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new BoundedCache(bad)).toThrow(RangeError);
  });
});
