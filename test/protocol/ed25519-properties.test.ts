// Properties every backend must share: round trips, identical signatures, one verdict on any
// corruption, malleated S rejected, junk never throws [P-2.1, P-2.2].

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hexToBytes, toHex } from '../../protocol/bytes.js';
import { backends, createNodeBackend, nobleBackend, nodeBackend } from '../../protocol/crypto/index.js';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

const seed = fc.uint8Array({ minLength: 32, maxLength: 32 });
const message = fc.uint8Array({ maxLength: 300 });

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

function addLToS(signature: Uint8Array): Uint8Array {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
  s += L; // < 2^253, still fits in 32 bytes: the classic malleated twin
  const out = signature.slice();
  for (let i = 32; i < 64; i++) out[i] = Number((s >> BigInt(8 * (i - 32))) & 0xffn);
  return out;
}

describe('sign and verify round trip', () => {
  it('both backends derive the same key, make the same signature, and each verifies the other', () => {
    fc.assert(
      fc.property(seed, message, (secret, msg) => {
        const pub = nobleBackend.publicKeyOf(secret);
        expect(toHex(nodeBackend.publicKeyOf(secret))).toBe(toHex(pub));
        const sig = nobleBackend.sign(msg, secret);
        expect(toHex(nodeBackend.sign(msg, secret))).toBe(toHex(sig));
        for (const backend of backends) expect(backend.verify(sig, msg, pub)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a flipped bit anywhere in signature, message or key is rejected by both', () => {
    const target = fc.constantFrom('sig', 'msg', 'key');
    fc.assert(
      fc.property(seed, fc.uint8Array({ minLength: 1, maxLength: 100 }), target, fc.nat(), (secret, msg, where, n) => {
        const pub = nodeBackend.publicKeyOf(secret);
        const sig = nodeBackend.sign(msg, secret);
        const args: Record<'sig' | 'msg' | 'key', Uint8Array> = { sig, msg, key: pub };
        args[where] = flipBit(args[where], n % (args[where].length * 8));
        const verdicts = backends.map((b) => b.verify(args.sig, args.msg, args.key));
        expect(verdicts).toEqual([false, false]);
      }),
      { numRuns: 300 },
    );
  });

  it('works on views at any offset into a larger buffer', () => {
    const secret = hexToBytes('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb');
    const pool = new Uint8Array(200).fill(7);
    pool.set(secret, 3);
    const secretView = pool.subarray(3, 35);
    const msgView = pool.subarray(100, 140);
    for (const backend of backends) {
      const pub = backend.publicKeyOf(secretView);
      expect(toHex(pub)).toBe('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
      const sig = backend.sign(msgView, secretView);
      const sigPool = new Uint8Array(100);
      sigPool.set(sig, 5);
      expect(backend.verify(sigPool.subarray(5, 69), msgView, pub)).toBe(true);
      expect(backend.verify(sigPool.subarray(4, 68), msgView, pub)).toBe(false);
    }
  });
});

describe('malleability [P-2.2 step 2]', () => {
  it('rejects S + L for a valid signature, on both backends', () => {
    fc.assert(
      fc.property(seed, message, (secret, msg) => {
        const pub = nodeBackend.publicKeyOf(secret);
        const sig = nodeBackend.sign(msg, secret);
        const twin = addLToS(sig);
        expect(toHex(twin)).not.toBe(toHex(sig));
        for (const backend of backends) {
          expect(backend.verify(sig, msg, pub)).toBe(true);
          expect(backend.verify(twin, msg, pub)).toBe(false);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('bad input', () => {
  const secret = new Uint8Array(32).fill(1);
  const msg = Uint8Array.of(1, 2, 3);

  it('verify returns false, never throws, on empty, truncated, zeroed, oversized or mistyped input', () => {
    const pub = nodeBackend.publicKeyOf(secret);
    const sig = nodeBackend.sign(msg, secret);
    const junk: [unknown, unknown, unknown][] = [
      [new Uint8Array(0), msg, pub],
      [sig.subarray(0, 63), msg, pub],
      [new Uint8Array(64), msg, pub],
      [new Uint8Array(65), msg, pub],
      [sig, msg, new Uint8Array(0)],
      [sig, msg, pub.subarray(0, 31)],
      [sig, msg, new Uint8Array(32)],
      [sig, msg, new Uint8Array(32).fill(0xff)],
      [sig, msg, new Uint8Array(1 << 20)],
      [undefined, msg, pub],
      [sig, null, pub],
      [sig, msg, 'not bytes'],
      [toHex(sig), msg, pub],
      [Array.from(sig), msg, pub],
    ];
    for (const backend of backends) {
      for (const [s, m, k] of junk) {
        const verify = backend.verify as (s: unknown, m: unknown, k: unknown) => boolean;
        expect(verify(s, m, k)).toBe(false);
      }
    }
  });

  it('a random 32-byte key and 64-byte signature verify on neither backend, without throwing', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        message,
        (s, k, m) => {
          expect(backends.map((b) => b.verify(s, m, k))).toEqual([false, false]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('sign and publicKeyOf throw on a secret key of the wrong length (programmer error)', () => {
    for (const backend of backends) {
      for (const n of [0, 31, 33, 64]) {
        expect(() => backend.publicKeyOf(new Uint8Array(n))).toThrow();
        expect(() => backend.sign(msg, new Uint8Array(n))).toThrow();
      }
    }
  });
});

describe('node backend key cache', () => {
  it('stays correct when more keys are used than it holds', () => {
    const backend = createNodeBackend({ maxPublicKeys: 2, maxSecretKeys: 1 });
    const secrets = [1, 2, 3].map((b) => new Uint8Array(32).fill(b));
    const msg = Uint8Array.of(9);
    for (let round = 0; round < 3; round++) {
      for (const [i, secret] of secrets.entries()) {
        const pub = backend.publicKeyOf(secret);
        const sig = backend.sign(msg, secret);
        expect(toHex(sig)).toBe(toHex(nobleBackend.sign(msg, secret)));
        expect(backend.verify(sig, msg, pub)).toBe(true);
        // Another key's signature must not verify under a cached key.
        const other = secrets[(i + 1) % secrets.length]!;
        expect(backend.verify(backend.sign(msg, other), msg, pub)).toBe(false);
      }
    }
  });

  it('rejects a capacity below 1', () => {
    expect(() => createNodeBackend({ maxPublicKeys: 0 })).toThrow(RangeError);
  });
});
