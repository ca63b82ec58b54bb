import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hexToBytes, toHex } from '../../protocol/bytes.js';
import { backends, isCanonicalY, isSmallOrderEncoding, SMALL_ORDER_ENCODINGS } from '../../protocol/crypto/index.js';
import { generateKeyPair, keyPairFromSeed, parsePublicKeyHex, validatePublicKey } from '../../protocol/keys.js';

// RFC 8032 section 7.1, TEST 1.
const RFC_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC_PUB = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';

const P = 2n ** 255n - 19n;

function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  base %= m;
  for (; exp > 0n; exp >>= 1n, base = (base * base) % m) if (exp & 1n) result = (result * base) % m;
  return result;
}
const mod = (a: bigint) => ((a % P) + P) % P;
const D = mod(-121665n * modPow(121666n, P - 2n, P)); // RFC 8032 section 5.1: d = -121665/121666

/** Independent of noble: a y has a curve point iff x^2 = (y^2 - 1)/(d y^2 + 1) is a square mod p. */
function hasPointWithY(y: bigint): boolean {
  const x2 = mod((y * y - 1n) * modPow(mod(D * y * y + 1n), P - 2n, P));
  return x2 === 0n || modPow(x2, (P - 1n) / 2n, P) === 1n;
}
function toLE32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}

// Annotated "(y > p)" or "(x = -0)" in the CCTV README: the non-canonical six of the fourteen.
const NON_CANONICAL_SMALL_ORDER = new Set([
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
]);

describe('validatePublicKey [P-2.3]', () => {
  it('accepts a valid key and returns an owned copy', () => {
    const key = hexToBytes(RFC_PUB);
    const result = validatePublicKey(key);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(toHex(result.value)).toBe(RFC_PUB);
    key[0] = 0;
    expect(toHex(result.value)).toBe(RFC_PUB);
  });

  it('rejects wrong lengths with KEY_LENGTH', () => {
    for (const n of [0, 1, 31, 33, 64]) {
      expect(validatePublicKey(new Uint8Array(n))).toMatchObject({ ok: false, code: 'KEY_LENGTH' });
    }
    expect(validatePublicKey('00'.repeat(32) as unknown as Uint8Array)).toMatchObject({
      ok: false,
      code: 'KEY_LENGTH',
    });
  });

  it('gives the same verdict again: a valid key is remembered by its bytes, a bad one checked each time', () => {
    const buffer = hexToBytes(RFC_PUB);
    for (let i = 0; i < 3; i++) expect(toHex((validatePublicKey(buffer) as { value: Uint8Array }).value)).toBe(RFC_PUB);
    // The same buffer, now holding the identity point (small order): its new bytes are judged anew.
    buffer.set(hexToBytes('01' + '00'.repeat(31)));
    for (let i = 0; i < 3; i++) expect(validatePublicKey(buffer)).toMatchObject({ ok: false, code: 'KEY_SMALL_ORDER' });
    expect(validatePublicKey(hexToBytes(RFC_PUB)).ok).toBe(true);
  });

  it('rejects each of the 14 small-order encodings: canonical ones as small order', () => {
    expect(SMALL_ORDER_ENCODINGS.length).toBe(14);
    for (const hex of SMALL_ORDER_ENCODINGS) {
      const expected = NON_CANONICAL_SMALL_ORDER.has(hex) ? 'KEY_NON_CANONICAL' : 'KEY_SMALL_ORDER';
      expect({ hex, result: validatePublicKey(hexToBytes(hex)) }).toMatchObject({
        hex,
        result: { ok: false, code: expected },
      });
    }
  });

  it('rejects y >= p for a point of large order with KEY_NON_CANONICAL', () => {
    // The smallest y whose point exists and is not one of the small-order ones (y = 0, 1, p-1).
    let y = 2n;
    while (!hasPointWithY(y)) y++;
    expect(y).toBeLessThan(19n); // so that y + p still fits below 2^255
    const canonical = toLE32(y);
    expect(validatePublicKey(canonical).ok || validatePublicKey(flipSign(canonical)).ok).toBe(true);
    for (const encoding of [toLE32(y + P), flipSign(toLE32(y + P))]) {
      expect(validatePublicKey(encoding)).toMatchObject({ ok: false, code: 'KEY_NON_CANONICAL' });
    }
  });

  it('rejects a y with no curve point with KEY_NOT_ON_CURVE', () => {
    let y = 2n;
    while (hasPointWithY(y)) y++;
    for (const encoding of [toLE32(y), flipSign(toLE32(y))]) {
      expect(validatePublicKey(encoding)).toMatchObject({ ok: false, code: 'KEY_NOT_ON_CURVE' });
    }
  });

  it('decides curve membership like the independent square test, for random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const y = mod(BigInt('0x' + toHex(bytes.slice().reverse())) & (2n ** 255n - 1n));
        const result = validatePublicKey(bytes);
        expect(result.ok || result.code !== 'KEY_NOT_ON_CURVE').toBe(hasPointWithY(y));
        // A key that passes also passes the per-signature checks on A [P-2.2 steps 3, 4].
        if (result.ok) expect(isCanonicalY(bytes, 0) && !isSmallOrderEncoding(bytes, 0)).toBe(true);
        if (!isCanonicalY(bytes, 0)) expect(result.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts every generated public key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        expect(validatePublicKey(keyPairFromSeed(seed).publicKey).ok).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});

function flipSign(encoding: Uint8Array): Uint8Array {
  const out = encoding.slice();
  out[31]! ^= 0x80;
  return out;
}

describe('parsePublicKeyHex', () => {
  it('parses 64 lowercase hex characters of a valid key', () => {
    const result = parsePublicKeyHex(RFC_PUB);
    expect(result.ok && toHex(result.value)).toBe(RFC_PUB);
  });

  it('rejects uppercase and non-hex characters with DECODE_FIELD', () => {
    for (const hex of [RFC_PUB.toUpperCase(), RFC_PUB.slice(0, 62) + 'zz', RFC_PUB.slice(0, 62) + ' 1']) {
      expect(parsePublicKeyHex(hex)).toMatchObject({ ok: false, code: 'DECODE_FIELD' });
    }
  });

  it('rejects other lengths with KEY_LENGTH', () => {
    for (const hex of ['', RFC_PUB.slice(0, 63), RFC_PUB + '0', RFC_PUB + RFC_PUB]) {
      expect(parsePublicKeyHex(hex)).toMatchObject({ ok: false, code: 'KEY_LENGTH' });
    }
  });

  it('passes the bytes through validatePublicKey', () => {
    expect(parsePublicKeyHex(SMALL_ORDER_ENCODINGS[8]!)).toMatchObject({ ok: false, code: 'KEY_SMALL_ORDER' });
  });
});

describe('key pairs', () => {
  it('keyPairFromSeed gives the RFC 8032 public key with every backend, and copies the seed', () => {
    for (const backend of backends) {
      const seed = hexToBytes(RFC_SEED);
      const pair = keyPairFromSeed(seed, backend);
      expect(toHex(pair.publicKey)).toBe(RFC_PUB);
      seed.fill(0);
      expect(toHex(pair.secretKey)).toBe(RFC_SEED);
    }
  });

  it('keyPairFromSeed throws on a seed of the wrong length', () => {
    for (const n of [0, 31, 33, 64]) expect(() => keyPairFromSeed(new Uint8Array(n))).toThrow(TypeError);
  });

  it('generateKeyPair gives fresh, consistent pairs that sign and verify', () => {
    for (const backend of backends) {
      const a = generateKeyPair(backend);
      const b = generateKeyPair(backend);
      expect(a.secretKey.length).toBe(32);
      expect(toHex(a.secretKey)).not.toBe(toHex(b.secretKey));
      expect(toHex(a.publicKey)).toBe(toHex(backend.publicKeyOf(a.secretKey)));
      const msg = Uint8Array.of(1, 2, 3);
      expect(backend.verify(backend.sign(msg, a.secretKey), msg, a.publicKey)).toBe(true);
    }
  });
});
