import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, UsageError, describeFaults, parseFaults } from '../../simulator/faults.js';
import { createRng } from '../../simulator/rng.js';

describe('--fault parsing', () => {
  it('accepts every documented kind with a value in range', () => {
    const specs = Object.keys(FAULT_KINDS).map(
      (k) => `${k}=${FAULT_KINDS[k as keyof typeof FAULT_KINDS].max === 1 ? 0.5 : 30}`,
    );
    const plan = parseFaults(specs);
    expect(Object.keys(plan).sort()).toEqual(Object.keys(FAULT_KINDS).sort());
    expect(plan['broker-restart']).toBe(30);
    expect(Object.isFrozen(plan)).toBe(true);
    expect(describeFaults(plan)).toContain('tamper=0.5');
  });

  it.each([
    ['flood=0.1', /unknown fault 'flood'/],
    ['tamper', /needs a value/],
    ['tamper=1.5', /from 0 to 1/],
    ['tamper=-0.1', /from 0 to 1/],
    ['tamper=abc', /from 0 to 1/],
    ['clock-skew=', /number >= 0/],
  ])('rejects %s with a usage error', (spec, message) => {
    expect(() => parseFaults([spec])).toThrow(UsageError);
    expect(() => parseFaults([spec])).toThrow(message);
  });

  it('rejects a kind given twice', () => {
    expect(() => parseFaults(['tamper=0.1', 'tamper=0.2'])).toThrow(/twice/);
  });
});

describe('seeded randomness', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const a = Array.from({ length: 5 }, createRng(7).next);
    const b = Array.from({ length: 5 }, createRng(7).next);
    const c = Array.from({ length: 5 }, createRng(8).next);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('draws events close to their probability', () => {
    const rng = createRng(42);
    let hits = 0;
    for (let i = 0; i < 20_000; i++) if (rng.chance(0.1)) hits++;
    expect(hits).toBeGreaterThan(1700);
    expect(hits).toBeLessThan(2300);
  });
});
