// Money as a person reads it [P-1.2, P-3.1]. Amounts stay integer counts of minor units end to end;
// a version-2 channel names its currency and the exponent of its minor unit (exponent 6: one minor
// unit is 10^-6 of the currency), and these helpers turn one into the other exactly, with bigint
// arithmetic only: no float ever holds an amount, so nothing is rounded.

import { isU64 } from './bytes.js';
import { fail, ok, type Result } from './errors.js';

/**
 * [P-3.1] A currency is an ISO 4217 alphabetic code (three capital letters, `EUR`) or a token named
 * by a CAIP-19 asset id (`eip155:1/erc20:0x6b17...`): `namespace:reference/asset_namespace:asset_reference`.
 */
export const ISO_CURRENCY_PATTERN = /^[A-Z]{3}$/;
export const TOKEN_CURRENCY_PATTERN = /^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}\/[-a-z0-9]{3,8}:[-.%a-zA-Z0-9]{1,128}$/;
export const CURRENCY_MAX = 128;
/** 10^18 is the largest power of ten below 2^64: an exponent above 18 could not express one unit. */
export const EXPONENT_MAX = 18;

/** The terms that give minor units a meaning; absent on a version-1 channel. */
export interface Denomination {
  currency: string;
  exponent: number;
}

export function isCurrency(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length <= CURRENCY_MAX &&
    (ISO_CURRENCY_PATTERN.test(value) || TOKEN_CURRENCY_PATTERN.test(value))
  );
}

export function isExponent(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= EXPONENT_MAX;
}

/** `minor` minor units as a decimal with exactly `exponent` fraction digits: 300n, 6 -> "0.000300". */
export function formatAmount(minor: bigint, exponent: number): string {
  if (!isExponent(exponent)) throw new TypeError(`exponent ${String(exponent)} not in 0..${EXPONENT_MAX}`);
  const sign = minor < 0n ? '-' : '';
  const digits = (minor < 0n ? -minor : minor).toString();
  if (exponent === 0) return sign + digits;
  const padded = digits.padStart(exponent + 1, '0');
  return `${sign}${padded.slice(0, -exponent)}.${padded.slice(-exponent)}`;
}

/**
 * An amount for a person: "0.000300 EUR" on a channel with a denomination, and for a version-1
 * channel, whose minor unit the record does not name, the bare count: "300 minor units".
 */
export function formatMoney(minor: bigint, terms: Partial<Denomination> | undefined): string {
  if (terms?.currency === undefined || terms.exponent === undefined) return `${minor} minor units`;
  return `${formatAmount(minor, terms.exponent)} ${terms.currency}`;
}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * Parses a decimal amount of the currency ("0.0003") into minor units at `exponent`, exactly. A
 * value with a non-zero digit beyond the exponent's places is refused, never rounded: at exponent
 * 6, "0.0000003" is not a whole number of micro-units. Result codes: DECODE_FIELD (not a plain
 * decimal, or not exact), U64_OVERFLOW (above 2^64-1 minor units).
 */
export function parseAmount(text: string, exponent: number): Result<bigint> {
  if (!isExponent(exponent)) return fail('DECODE_FIELD', `exponent ${String(exponent)} not in 0..${EXPONENT_MAX}`);
  const m = typeof text === 'string' ? DECIMAL.exec(text) : null;
  if (!m) return fail('DECODE_FIELD', `"${String(text)}" is not a decimal number (digits, optionally one point)`);
  const whole = m[1]!;
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  if (fraction.length > exponent)
    return fail(
      'DECODE_FIELD',
      `${text} is not exact at exponent ${exponent}: it has ${fraction.length} decimal places, the minor unit allows ${exponent}`,
    );
  const minor = BigInt(whole + fraction.padEnd(exponent, '0'));
  if (!isU64(minor)) return fail('U64_OVERFLOW', `${text} is more than 2^64-1 minor units at exponent ${exponent}`);
  return ok(minor);
}
