// Stale and frozen meters (agent/meter/health.ts): pure state, driven by hand.
import { describe, expect, it } from 'vitest';
import { MeterHealth } from '../../agent/meter/health.js';

describe('meter health', () => {
  it('goes stale after staleMs without a reading and recovers on the next one', () => {
    const h = new MeterHealth(1000, 0, 0);
    expect(h.check(999)).toBeUndefined();
    expect(h.check(1000)).toMatchObject({ state: 'stale', code: 'METER_STALE', detail: 'no reading for 1 s' });
    expect(h.check(5000)).toBeUndefined(); // said once
    expect(h.reading(5n, 5001)).toMatchObject({ state: 'ok', code: 'METER_RECOVERED' });
    expect(h.check(5500)).toBeUndefined();
  });

  it('reports a frozen counter only when asked to, and not while it is stale', () => {
    const off = new MeterHealth(0, 0, 0);
    off.reading(1n, 0);
    expect(off.reading(1n, 10_000_000)).toBeUndefined();

    const h = new MeterHealth(10_000, 3000, 0);
    h.reading(7n, 0);
    h.reading(7n, 2000);
    expect(h.reading(7n, 3000)).toMatchObject({ state: 'frozen', code: 'METER_FROZEN' });
    expect(h.reading(8n, 3500)).toMatchObject({ state: 'ok', code: 'METER_RECOVERED' });
    expect(h.check(13_500)).toMatchObject({ state: 'stale' }); // silence outranks stillness
  });

  it('a meter the last run left stale stays stale until a reading comes', () => {
    const h = new MeterHealth(1000, 0, 0, 'stale');
    expect(h.check(10)).toMatchObject({ state: 'ok', code: 'METER_RECOVERED' });
  });
});
