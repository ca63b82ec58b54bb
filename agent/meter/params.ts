// The options of URL-shaped meter specs (modbus-tcp://, mqtt://, prometheus:...): every key is
// known to its source, so a typo is an error rather than a silently ignored default.
import { parseDecimal, type Decimal } from './decimal.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The ?key=value options of a spec; unknown or repeated keys are refused. */
export function readParams(search: string, allowed: readonly string[]): Parsed<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(search)) {
    if (!allowed.includes(key)) {
      return { ok: false, reason: `unknown option "${key}"; expected ${allowed.join(', ')}` };
    }
    if (out.has(key)) return { ok: false, reason: `option "${key}" given twice` };
    out.set(key, value);
  }
  return { ok: true, value: out };
}

/** A positive exact decimal multiplier: 1000 turns kWh into Wh, 0.0009765625 bytes into KiB. */
export function parseScale(text: string | undefined): Parsed<Decimal> {
  if (text === undefined) return { ok: true, value: { coef: 1n, exp: 0 } };
  const d = parseDecimal(text);
  if (!d.ok || d.value.coef <= 0n) return { ok: false, reason: `scale must be a positive decimal, got "${text}"` };
  return d;
}

/** A whole number in [min, max], decimal or 0x hex (register addresses are quoted both ways). */
export function parseWhole(name: string, text: string | undefined, min: number, max: number): Parsed<number> {
  if (text === undefined || !/^(?:\d{1,10}|0x[0-9a-fA-F]{1,8})$/.test(text)) {
    return { ok: false, reason: `${name} must be a whole number (decimal or 0x hex), got "${text ?? ''}"` };
  }
  const n = Number(text);
  if (n < min || n > max) return { ok: false, reason: `${name} must be between ${min} and ${max}, got ${n}` };
  return { ok: true, value: n };
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(
  name: string,
  text: string | undefined,
  choices: readonly T[],
  fallback: T,
): Parsed<T> {
  if (text === undefined) return { ok: true, value: fallback };
  if ((choices as readonly string[]).includes(text)) return { ok: true, value: text as T };
  return { ok: false, reason: `${name} must be one of ${choices.join(', ')}, got "${text}"` };
}
