// The byte-level pre-checks of clause 2.2, each against an independent big-integer or point
// reference, on edge values and on random bytes.

import * as ed from '@noble/ed25519';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hexToBytes } from '../../protocol/bytes.js';
import {
  isCanonicalY,
  isScalarBelowL,
  isSmallOrderEncoding,
  passesStrictPrechecks,
  SMALL_ORDER_ENCODINGS,
} from '../../protocol/crypto/index.js';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;

function toLE32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}
function fromLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const near = (center: bigint) => fc.bigInt({ min: center - 300n, max: center + 300n });

describe('isScalarBelowL [P-2.2 step 2]', () => {
  it('decides the edge values', () => {
    expect(isScalarBelowL(toLE32(0n), 0)).toBe(true);
    expect(isScalarBelowL(toLE32(L - 1n), 0)).toBe(true);
    expect(isScalarBelowL(toLE32(L), 0)).toBe(false);
    expect(isScalarBelowL(toLE32(L + 1n), 0)).toBe(false);
    expect(isScalarBelowL(toLE32(2n ** 256n - 1n), 0)).toBe(false);
  });

  it('agrees with S < L on random and near-L scalars', () => {
    const scalar = fc.oneof(bytes32.map(fromLE), near(L), fc.bigInt({ min: 0n, max: 2n ** 253n }));
    fc.assert(
      fc.property(scalar, (s) => {
        const mod256 = ((s % 2n ** 256n) + 2n ** 256n) % 2n ** 256n;
        expect(isScalarBelowL(toLE32(mod256), 0)).toBe(mod256 < L);
      }),
      { numRuns: 500 },
    );
  });

  it('reads the scalar at the given offset (S is bytes 32..63 of a signature)', () => {
    const sig = new Uint8Array(64).fill(0xff);
    sig.set(toLE32(L - 1n), 32);
    expect(isScalarBelowL(sig, 32)).toBe(true);
    sig.set(toLE32(L), 32);
    expect(isScalarBelowL(sig, 32)).toBe(false);
  });
});

describe('isCanonicalY [P-2.2 step 3]', () => {
  it('decides the edge values, with either sign bit', () => {
    for (const sign of [0n, 1n << 255n]) {
      expect(isCanonicalY(toLE32(sign | (P - 1n)), 0)).toBe(true);
      expect(isCanonicalY(toLE32(sign | P), 0)).toBe(false);
      expect(isCanonicalY(toLE32(sign | (2n ** 255n - 1n)), 0)).toBe(false);
      expect(isCanonicalY(toLE32(sign | 0n), 0)).toBe(true);
    }
  });

  it('agrees with (encoding mod 2^255) < p on random and near-p encodings', () => {
    const encoding = fc.oneof(
      bytes32.map(fromLE),
      near(P).filter((y) => y < 2n ** 255n),
      near(P)
        .filter((y) => y < 2n ** 255n)
        .map((y) => y | (1n << 255n)),
    );
    fc.assert(
      fc.property(encoding, (e) => {
        expect(isCanonicalY(toLE32(e), 0)).toBe((e & (2n ** 255n - 1n)) < P);
      }),
      { numRuns: 500 },
    );
  });
});

describe('isSmallOrderEncoding [P-2.2 step 4]', () => {
  it('flags each of the 14 encodings, at any offset', () => {
    expect(SMALL_ORDER_ENCODINGS.length).toBe(14);
    expect(new Set(SMALL_ORDER_ENCODINGS).size).toBe(14);
    for (const hex of SMALL_ORDER_ENCODINGS) {
      expect(isSmallOrderEncoding(hexToBytes(hex), 0)).toBe(true);
      const shifted = new Uint8Array(64);
      shifted.set(hexToBytes(hex), 32);
      expect(isSmallOrderEncoding(shifted, 32)).toBe(true);
    }
  });

  it('lists only points of small order (checked with noble, decoding leniently)', () => {
    const orders = new Set<string>();
    for (const hex of SMALL_ORDER_ENCODINGS) {
      // zip215 = true also decodes y >= p and x = -0, the non-canonical forms in the list.
      const point = ed.Point.fromBytes(hexToBytes(hex), true);
      expect(point.isSmallOrder()).toBe(true);
      orders.add(point.toHex());
    }
    expect(orders.size).toBe(8); // the 8 small-order points, each at least once
  });

  it('does not flag points of large order, even with a small-order component', () => {
    const torsion = ed.Point.fromHex(SMALL_ORDER_ENCODINGS[8]!); // order 8
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: L - 1n }), fc.integer({ min: 0, max: 7 }), (k, t) => {
        const point = ed.Point.BASE.multiply(k).add(torsion.multiply(BigInt(t + 1)));
        expect(isSmallOrderEncoding(point.toBytes(), 0)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});

describe('passesStrictPrechecks', () => {
  const key = hexToBytes('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const sig = hexToBytes(
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  );

  it('passes a well-formed signature and key', () => {
    expect(passesStrictPrechecks(sig, key)).toBe(true);
  });

  it('rejects every wrong length without throwing', () => {
    for (const n of [0, 1, 31, 33, 64, 1 << 16]) expect(passesStrictPrechecks(sig, new Uint8Array(n))).toBe(false);
    for (const n of [0, 1, 32, 63, 65, 128]) expect(passesStrictPrechecks(new Uint8Array(n), key)).toBe(false);
  });

  it('rejects S >= L, a non-canonical A or R, a small-order A or R', () => {
    const withS = sig.slice();
    withS.set(toLE32(L), 32);
    expect(passesStrictPrechecks(withS, key)).toBe(false);

    const nonCanonical = toLE32(P + 3n);
    const withR = sig.slice();
    withR.set(nonCanonical, 0);
    expect(passesStrictPrechecks(withR, key)).toBe(false);
    expect(passesStrictPrechecks(sig, nonCanonical)).toBe(false);

    for (const hex of SMALL_ORDER_ENCODINGS) {
      const smallR = sig.slice();
      smallR.set(hexToBytes(hex), 0);
      expect(passesStrictPrechecks(smallR, key)).toBe(false);
      expect(passesStrictPrechecks(sig, hexToBytes(hex))).toBe(false);
    }
  });
});
