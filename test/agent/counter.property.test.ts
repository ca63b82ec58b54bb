// Property tests of the counter semantics (agent/meter/counter.ts) and of the exact decimal rules
// they rest on (agent/meter/decimal.ts). Each property names the case of docs/agent.md it checks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_COUNTER, stepCounter, type CounterState } from '../../agent/meter/counter.js';
import {
  exactDecimal,
  float32ToDecimal,
  formatNanos,
  NANO,
  parseDecimal,
  parseNanos,
  toNanos,
} from '../../agent/meter/decimal.js';

/** Feeds readings (nano-units) one per `stepMs`, returning the units and events. */
function run(readings: readonly bigint[], opts: { stepMs?: number; wrapsAt?: bigint; start?: CounterState } = {}) {
  let state = opts.start ?? EMPTY_COUNTER;
  let units = 0n;
  const events: string[] = [];
  readings.forEach((r, i) => {
    const step = stepCounter(state, r, i * (opts.stepMs ?? 1000), opts.wrapsAt);
    expect(step.units).toBeGreaterThanOrEqual(0n);
    expect(step.state.remainder).toBeGreaterThanOrEqual(0n);
    expect(step.state.remainder).toBeLessThan(NANO);
    units += step.units;
    state = step.state;
    if (step.event) events.push(step.event.code);
  });
  return { units, state, events };
}

/** What survives a restart: the committed baseline and remainder, nothing held in memory. */
const persisted = (s: CounterState): CounterState => ({ baseline: s.baseline, remainder: s.remainder });

const nanoReading = fc.bigInt({ min: 0n, max: 10n ** 15n * NANO });
const increasing = fc
  .tuple(nanoReading, fc.array(fc.bigInt({ min: 0n, max: 50n * NANO }), { minLength: 1, maxLength: 60 }))
  .map(([first, steps]) => steps.reduce<bigint[]>((acc, d) => [...acc, acc[acc.length - 1]! + d], [first]));

describe('fractional readings: whole units, remainder carried', () => {
  it('counts exactly the floor of what the counter advanced, however the advance is cut', () => {
    fc.assert(
      fc.property(increasing, (readings) => {
        const { units, state } = run(readings);
        const advanced = readings[readings.length - 1]! - readings[0]!;
        expect(units).toBe(advanced / NANO);
        expect(state.remainder).toBe(advanced % NANO);
      }),
    );
  });

  it('a restart at any point (only the persisted state kept) neither loses nor doubles a unit', () => {
    fc.assert(
      fc.property(increasing, fc.nat(), (readings, cut) => {
        const at = 1 + (cut % readings.length);
        const before = run(readings.slice(0, at));
        const after = run(readings.slice(at), { start: persisted(before.state) });
        expect(before.units + after.units).toBe(run(readings).units);
      }),
    );
  });

  it('kWh decimals scaled to Wh: units = floor((last - first) x 1000), computed here on strings', () => {
    const kwh = fc
      .tuple(fc.bigInt({ min: 0n, max: 10n ** 9n }), fc.integer({ min: 0, max: 6 }))
      .map(([thousandths, shift]) => ({ coef: thousandths * 10n ** BigInt(shift), digits: 3 + shift }));
    fc.assert(
      fc.property(fc.array(kwh, { minLength: 2, maxLength: 30 }), (values) => {
        // Ascending decimal strings such as "1234.5678" with 3 to 9 decimals.
        let total = 0n;
        const texts: string[] = [];
        for (const v of values) {
          total += v.coef * 10n ** BigInt(9 - v.digits);
          const s = total.toString().padStart(10, '0');
          texts.push(`${s.slice(0, -9)}.${s.slice(-9)}`.replace(/\.?0+$/, ''));
        }
        const scale = (parseDecimal('1000') as { value: { coef: bigint; exp: number } }).value;
        const readings = texts.map((t) => {
          const r = toNanos((parseDecimal(t) as { value: { coef: bigint; exp: number } }).value, scale);
          expect(r.ok).toBe(true);
          return (r as { value: bigint }).value;
        });
        // Independent arithmetic: total is in 1e-9 kWh = 1e-6 Wh; the advance in whole Wh.
        const first = total - values.slice(1).reduce((a, v) => a + v.coef * 10n ** BigInt(9 - v.digits), 0n);
        const expectedWh = ((total - first) * 1000n) / NANO;
        expect(run(readings).units).toBe(expectedWh);
      }),
    );
  });
});

describe('resets and replaced meters', () => {
  it('re-baselines on any decrease: the units are exactly the carried sum of the advances', () => {
    fc.assert(
      fc.property(fc.array(nanoReading, { minLength: 1, maxLength: 60 }), (readings) => {
        const { units, state, events } = run(readings);
        let advanced = 0n;
        let decreases = 0;
        for (let i = 1; i < readings.length; i++) {
          const d = readings[i]! - readings[i - 1]!;
          if (d >= 0n) advanced += d;
          else decreases++;
        }
        expect(units).toBe(advanced / NANO);
        expect(state.remainder).toBe(advanced % NANO);
        expect(events.filter((e) => e === 'METER_DECREASED').length).toBe(decreases);
        expect(state.baseline).toBe(readings[readings.length - 1]);
      }),
    );
  });

  it('the first reading after a reset creates nothing, and the old remainder is kept', () => {
    const s = stepCounter({ baseline: 5n * NANO + 700_000_000n, remainder: 600_000_000n }, 2n * NANO, 0);
    expect(s).toMatchObject({ units: 0n, state: { baseline: 2n * NANO, remainder: 600_000_000n } });
    expect(stepCounter(s.state, 2n * NANO + 500_000_000n, 1000).units).toBe(1n); // 0.6 + 0.5
  });
});

describe('32-bit rollover', () => {
  const wrapsAt = (1n << 32n) * NANO;

  it('counts across the wrap at a steady rate, exactly as if the register were wider', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 1n << 24n }),
        fc.integer({ min: 3, max: 40 }),
        // At least one advance before the wrap, so a rate is known (the blind case is below).
        fc.integer({ min: 2, max: 39 }),
        (delta, n, before) => {
          const wide = Array.from(
            { length: n },
            (_, i) => (1n << 32n) - BigInt(Math.min(before, n - 1)) * delta + BigInt(i) * delta,
          );
          const readings = wide.map((w) => (w % (1n << 32n)) * NANO);
          const { units, events } = run(readings, { wrapsAt });
          expect(units).toBe(wide[wide.length - 1]! - wide[0]!);
          expect(events.every((e) => e === 'METER_ROLLOVER')).toBe(true);
        },
      ),
    );
  });

  it('a drop far beyond the rate is a reset, not a rollover: it never creates units', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 1000n }),
        fc.bigInt({ min: 1n << 31n, max: (1n << 32n) - 1n }),
        fc.bigInt({ min: 0n, max: 1n << 30n }),
        (delta, high, low) => {
          const across = (1n << 32n) - high + low;
          fc.pre(across > 4n * delta && across > 1n << 12n);
          const readings = [high - 2n * delta, high - delta, high, low].map((r) => r * NANO);
          const { units, events } = run(readings, { wrapsAt });
          expect(units).toBe(2n * delta);
          expect(events).toEqual(['METER_DECREASED']);
        },
      ),
    );
  });

  it('a wrap right after a start (no rate known) is believed only within the top 1/2^20 of the range', () => {
    const start = { baseline: ((1n << 32n) - 100n) * NANO, remainder: 0n };
    expect(stepCounter(start, 50n * NANO, 0, wrapsAt)).toMatchObject({
      units: 150n,
      event: { code: 'METER_ROLLOVER' },
    });
    const far = { baseline: ((1n << 32n) - 100_000n) * NANO, remainder: 0n };
    expect(stepCounter(far, 50n * NANO, 0, wrapsAt)).toMatchObject({ units: 0n, event: { code: 'METER_DECREASED' } });
    // Without a declared width, any decrease is a reset.
    expect(stepCounter(start, 50n * NANO, 0).event?.code).toBe('METER_DECREASED');
  });
});

describe('exact decimals', () => {
  it('parses decimal text exactly, with exponents', () => {
    const digits = fc.stringMatching(/^\d{1,15}$/);
    fc.assert(
      fc.property(digits, fc.stringMatching(/^\d{0,12}$/), fc.integer({ min: -20, max: 20 }), (int, frac, e) => {
        const text = `${int}${frac ? `.${frac}` : ''}e${e}`;
        const d = parseDecimal(text);
        expect(d.ok).toBe(true);
        const { coef, exp } = (d as { value: { coef: bigint; exp: number } }).value;
        expect(coef).toBe(BigInt(int + frac));
        expect(exp).toBe(e - frac.length);
      }),
    );
    for (const bad of ['', '.', 'e5', 'NaN', '+Inf', '-Inf', '0x10', '1,5', '1e99999', '1.2.3', ' - 1']) {
      expect(parseDecimal(bad).ok, bad).toBe(false);
    }
    expect(toNanos((parseDecimal('-1') as { value: { coef: bigint; exp: number } }).value).ok).toBe(false);
  });

  it('float32: the shortest decimal of at most 9 digits that reads back as the same float32', () => {
    fc.assert(
      fc.property(fc.float({ min: 0, noNaN: true, noDefaultInfinity: true }), (x) => {
        const d = float32ToDecimal(x);
        const text = `${d.coef}e${d.exp}`;
        expect(Math.fround(Number(text))).toBe(Math.fround(x));
        expect(d.coef.toString().replace(/0+$/, '').length).toBeLessThanOrEqual(9);
      }),
    );
    // Any decimal of 6 significant digits comes back as written (FLT_DIG is 6).
    fc.assert(
      fc.property(fc.integer({ min: 100_000, max: 999_999 }), fc.integer({ min: -6, max: 4 }), (m, e) => {
        const d = float32ToDecimal(Math.fround(Number(`${m}e${e}`)));
        expect(Number(`${d.coef}e${d.exp}`)).toBe(Number(`${m}e${e}`));
      }),
    );
    // The SDM630 example of docs/agent.md: 0x449A5225 is 1234.567 kWh, 1234567 Wh.
    const view = new DataView(new ArrayBuffer(4));
    view.setUint32(0, 0x449a5225);
    expect(float32ToDecimal(view.getFloat32(0))).toEqual({ coef: 1234567n, exp: -3 });
  });

  it('exactDecimal is the exact binary value of a double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const d = exactDecimal(x);
        expect(Number(`${d.coef}e${d.exp}`)).toBe(x === 0 ? 0 : x);
      }),
    );
  });

  it('stored meter values round-trip through their text form', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) * NANO - 1n }), (n) => {
        expect(parseNanos(formatNanos(n))).toBe(n);
      }),
    );
    expect(parseNanos('1234')).toBe(1234n * NANO); // what older agents stored
  });
});
