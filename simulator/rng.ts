// Seeded randomness, so a run with the same --seed makes the same choices (fault draws, arrival
// times, device mix) and a failure can be replayed. Not for keys: device keys come from the
// protocol's key generator.

/** mulberry32: a tiny, fast 32-bit generator; statistically fine for simulation, not crypto. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    exponential: (rate) => -Math.log(1 - next()) / rate,
    fork: (salt) => createRng((state ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0),
  };
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  /** An exponential inter-arrival time for a Poisson process of the given rate. */
  exponential(rate: number): number;
  /** An independent stream, e.g. one per device, so adding a device does not shift the others. */
  fork(salt: number): Rng;
}
