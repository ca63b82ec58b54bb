import { describe, expect, it } from 'vitest';
import { formatAmount, formatMoney, isCurrency, parseAmount, U64_MAX } from '../../protocol/index.js';

const codeOf = (r: { ok: boolean; code?: string }) => (r.ok ? 'ok' : r.code);
const value = (r: { ok: boolean; value?: bigint }) => (r.ok ? r.value : undefined);

describe('money formatting and parsing, exact [P-1.2, P-3.1]', () => {
  it('formats minor units with exactly exponent fraction digits', () => {
    expect(formatAmount(300n, 6)).toBe('0.000300');
    expect(formatAmount(0n, 6)).toBe('0.000000');
    expect(formatAmount(1_234_567n, 2)).toBe('12345.67');
    expect(formatAmount(5n, 0)).toBe('5');
    expect(formatAmount(-5n, 3)).toBe('-0.005');
    // u64 max at exponent 18: digits a float would have rounded away.
    expect(formatAmount(U64_MAX, 18)).toBe('18.446744073709551615');
    expect(() => formatAmount(1n, 19)).toThrow(TypeError);
  });

  it('names the currency, or says minor units when a version-1 channel has none', () => {
    expect(formatMoney(300n, { currency: 'EUR', exponent: 6 })).toBe('0.000300 EUR');
    expect(formatMoney(300n, undefined)).toBe('300 minor units');
    expect(formatMoney(300n, {})).toBe('300 minor units');
  });

  it('parses a decimal into minor units exactly, and back', () => {
    expect(value(parseAmount('0.0003', 6))).toBe(300n);
    expect(value(parseAmount('0.30', 6))).toBe(300_000n);
    expect(value(parseAmount('12', 2))).toBe(1200n);
    expect(value(parseAmount('0.000001', 6))).toBe(1n);
    expect(value(parseAmount('0.00030000', 6))).toBe(300n); // trailing zeros are exact
    expect(value(parseAmount('18.446744073709551615', 18))).toBe(U64_MAX);
    // 0.1 + 0.2 style: what a float would get wrong.
    expect(value(parseAmount('0.3', 18))).toBe(300_000_000_000_000_000n);
    for (const [minor, exponent] of [
      [300n, 6],
      [1n, 18],
      [U64_MAX, 0],
      [987_654_321n, 4],
    ] as const)
      expect(value(parseAmount(formatAmount(minor, exponent), exponent))).toBe(minor);
  });

  it('refuses what is not exact at the exponent, not a plain decimal, or beyond u64', () => {
    const bad: Array<[string, number, string]> = [
      ['0.0000003', 6, 'DECODE_FIELD'],
      ['0.001', 2, 'DECODE_FIELD'],
      ['1.5', 0, 'DECODE_FIELD'],
      ['', 6, 'DECODE_FIELD'],
      ['.5', 6, 'DECODE_FIELD'],
      ['5.', 6, 'DECODE_FIELD'],
      ['-1', 6, 'DECODE_FIELD'],
      ['1e-4', 6, 'DECODE_FIELD'],
      ['0,3', 6, 'DECODE_FIELD'],
      [' 1', 6, 'DECODE_FIELD'],
      ['18.446744073709551616', 18, 'U64_OVERFLOW'],
      ['1', 19, 'DECODE_FIELD'],
    ];
    for (const [text, exponent, code] of bad) expect(codeOf(parseAmount(text, exponent)), text).toBe(code);
    const r = parseAmount('0.0000003', 6);
    expect(!r.ok && r.detail).toMatch(/not exact at exponent 6/);
  });

  it('knows the currency grammar: ISO 4217 code or CAIP-19 asset id', () => {
    for (const c of [
      'EUR',
      'USD',
      'XAU',
      'eip155:1/erc20:0x6b175474e89094c44da98b954eedeac495271d0f',
      'bip122:000000000019d6689c085ae165831e93/slip44:0',
    ])
      expect(isCurrency(c), c).toBe(true);
    for (const c of ['', 'eu', 'EURO', 'Eur', 'EUR ', 'eip155:1', 'eip155:1/erc20:', 'EIP155:1/erc20:0x1', 42])
      expect(isCurrency(c), String(c)).toBe(false);
  });
});
