// Exact decimal readings. A real meter says 123.456 kWh; the channel counts whole Wh. A reading is
// therefore parsed as an exact decimal, multiplied by the spec's exact decimal scale, and kept as a
// whole number of billionths of a unit (nano-units). No float takes part in the arithmetic, so a
// kWh reading never gains or loses a Wh on the way.
//
// Where a source hands us a binary float (a Modbus float32 register, a JSON number) the value it
// stands for is defined here, once:
//   - float32: the shortest decimal, of 1 to 9 significant digits, that reads back as the same
//     float32 (what the meter's display shows: 0x449A5225 is 1234.567, not 1234.5670166015625);
//   - float64 / JSON numbers: ECMAScript's Number-to-String, which is the shortest decimal that
//     reads back as the same double; for a number written with at most 15 significant digits that
//     is exactly the number as written.
// Digits past a billionth of a unit are cut off (floored). Readings are cumulative, so the cut
// never accumulates: it shifts the counter by less than a billionth of a unit at any time.
import { U64_MAX } from '../../protocol/index.js';

/** Billionths of a unit per unit: the resolution of a reading. */
export const NANO = 1_000_000_000n;

/** value = coef x 10^exp, exact. */
export interface Decimal {
  readonly coef: bigint;
  readonly exp: number;
}

export type DecimalResult = { ok: true; value: Decimal } | { ok: false; reason: string };

const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/;
const MAX_CHARS = 64;
/** Exponents beyond this cannot be a counter within u64 at nano resolution; refusing them keeps
 *  a hostile "1e999999" from building a huge bigint. */
const MAX_EXP = 60;

/** Parses "123", "0.5", "-1.25e3", "1E-7". Not NaN, Inf, hex, or a bare "." or "e5". */
export function parseDecimal(text: string): DecimalResult {
  const t = text.trim();
  if (t.length === 0) return { ok: false, reason: 'empty reading' };
  if (t.length > MAX_CHARS) return { ok: false, reason: 'reading too long' };
  const m = DECIMAL_RE.exec(t);
  const int = m?.[2] ?? '';
  const frac = m?.[3] ?? '';
  if (m === null || int.length + frac.length === 0) {
    return { ok: false, reason: `not a decimal number: ${JSON.stringify(t.slice(0, 24))}` };
  }
  const exp = Number(m[4] ?? '0') - frac.length;
  if (Math.abs(exp) > MAX_EXP) return { ok: false, reason: 'exponent out of range' };
  const coef = BigInt(int + frac || '0');
  return { ok: true, value: { coef: m[1] === '-' ? -coef : coef, exp } };
}

export const ONE: Decimal = Object.freeze({ coef: 1n, exp: 0 });

export type NanosResult = { ok: true; value: bigint } | { ok: false; reason: string };

/** reading x scale as whole nano-units (floored). Negative, or whole part beyond u64: refused. */
export function toNanos(reading: Decimal, scale: Decimal = ONE): NanosResult {
  const coef = reading.coef * scale.coef;
  if (coef < 0n) return { ok: false, reason: 'negative reading' };
  const exp = reading.exp + scale.exp + 9;
  const nanos = exp >= 0 ? coef * 10n ** BigInt(exp) : coef / 10n ** BigInt(-exp);
  if (nanos / NANO > U64_MAX) return { ok: false, reason: 'reading does not fit in u64' };
  return { ok: true, value: nanos };
}

/** The decimal a float32 stands for (see the rule at the top). x must be finite. */
export function float32ToDecimal(x: number): Decimal {
  for (let p = 1; p <= 9; p++) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === x) return (parseDecimal(s) as { value: Decimal }).value;
  }
  // Nine digits always round-trip a float32 when rounded once; reading back through a double
  // rounds twice, which in rare cases can miss. Then the exact binary value stands.
  return exactDecimal(x);
}

/** The decimal a double stands for: its shortest round-trip string. x must be finite. */
export function float64ToDecimal(x: number): Decimal {
  return (parseDecimal(String(x)) as { value: Decimal }).value;
}

/** The exact value of a finite double as a decimal: m x 2^e = m x 5^-e x 10^e for e < 0. */
export function exactDecimal(x: number): Decimal {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const e = (biased === 0 ? 1 : biased) - 1075;
  const sign = negative ? -1n : 1n;
  if (e >= 0) return { coef: sign * (mantissa << BigInt(e)), exp: 0 };
  return { coef: sign * mantissa * 5n ** BigInt(-e), exp: e };
}

/** nano-units as a plain decimal string: 1500000000n -> "1.5". For logs and status. */
export function formatNanos(nanos: bigint): string {
  const neg = nanos < 0n;
  const abs = neg ? -nanos : nanos;
  const whole = abs / NANO;
  const frac = (abs % NANO).toString().padStart(9, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac.length > 0 ? `.${frac}` : ''}`;
}

/** The inverse of formatNanos for stored state: "12.5" -> 12500000000n. */
export function parseNanos(text: string): bigint {
  const [whole = '0', frac = ''] = text.split('.');
  return BigInt(whole) * NANO + BigInt(frac.padEnd(9, '0').slice(0, 9) || '0');
}
