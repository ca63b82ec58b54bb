import { describe, expect, it } from 'vitest';
import { Ledger, reconcile, type Totals } from '../../simulator/ledger.js';

const t = (units: bigint, amount: bigint): Totals => ({ units, amount });

describe('ground-truth ledger', () => {
  it('keeps the highest signed head of each channel, whatever the order heads arrive in', () => {
    const ledger = new Ledger();
    ledger.recordSigned('a', { seq: 5n, units: 5n, amount: 50n });
    ledger.recordSigned('a', { seq: 3n, units: 3n, amount: 30n });
    ledger.recordSigned('b', { seq: 1n, units: 2n, amount: 7n });
    expect(ledger.signed().get('a')).toEqual({ seq: 5n, units: 5n, amount: 50n });
    expect(ledger.totalSigned()).toEqual(t(7n, 57n));
  });
});

describe('reconcile', () => {
  it('holds when signed = accepted = settled on every channel', () => {
    const m = new Map([
      ['a', t(10n, 100n)],
      ['b', t(3n, 9n)],
    ]);
    const r = reconcile(m, new Map(m), new Map(m));
    expect(r.ok).toBe(true);
    expect(r.lost).toBe(0n);
    expect(r.duplicated).toBe(0n);
    expect(r.signed).toEqual(t(13n, 109n));
  });

  it('names the channel that lost units', () => {
    const signed = new Map([
      ['a', t(10n, 100n)],
      ['b', t(3n, 9n)],
    ]);
    const accepted = new Map([
      ['a', t(8n, 80n)],
      ['b', t(3n, 9n)],
    ]);
    const r = reconcile(signed, accepted, accepted);
    expect(r.ok).toBe(false);
    expect(r.lost).toBe(2n);
    expect(r.mismatches.map((m) => m.channelId)).toEqual(['a']);
  });

  it('counts units accepted beyond what was signed as duplicated', () => {
    const signed = new Map([['a', t(10n, 100n)]]);
    const accepted = new Map([['a', t(12n, 120n)]]);
    const r = reconcile(signed, accepted, accepted);
    expect(r.duplicated).toBe(2n);
    expect(r.ok).toBe(false);
  });

  it('fails when accepted units were not settled, or when only the amount differs', () => {
    const signed = new Map([['a', t(10n, 100n)]]);
    expect(reconcile(signed, signed, new Map([['a', t(9n, 90n)]])).unsettled).toBe(1n);
    expect(reconcile(signed, new Map([['a', t(10n, 101n)]]), signed).ok).toBe(false);
  });

  it('fails for a channel the hub accepted but the fleet never signed', () => {
    const r = reconcile(new Map(), new Map([['x', t(1n, 1n)]]), new Map([['x', t(1n, 1n)]]));
    expect(r.ok).toBe(false);
    expect(r.duplicated).toBe(1n);
  });
});
