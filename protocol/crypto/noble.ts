// The reference Ed25519 backend, on @noble/ed25519 (audited, pure TypeScript) [P-2.1].
// Keys and signatures come from noble's RFC 8032 code. Verification runs Tally's pre-checks, then
// the cofactorless group equation of RFC 8032 section 5.1.7 written with noble's Point: noble's own
// verify() checks the cofactored equation [8][S]B = [8]R + [8][k]A, which accepts signatures that
// OpenSSL rejects when R or A carries a small-order component (CCTV `low_order_residue`).
// Clause 2.2 step 5 fixes the cofactorless form so that both backends give one verdict.

import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { passesStrictPrechecks } from './policy.js';
import type { Ed25519Backend } from './types.js';

// noble's synchronous API needs a SHA-512; node:crypto's is native and fast.
ed.hashes.sha512 = (message) => {
  const digest = createHash('sha512').update(message).digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
};

const { Point } = ed;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function littleEndianToBigInt(bytes: Uint8Array): bigint {
  return BigInt('0x' + Buffer.from(bytes).reverse().toString('hex'));
}

function verifyEquation(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  const rBytes = signature.subarray(0, 32);
  // Strict decoding (the default, zip215 = false): throws on y >= p, x = -0 or a y with no x.
  const A = Point.fromBytes(publicKey);
  const R = Point.fromBytes(rBytes);
  const S = littleEndianToBigInt(signature.subarray(32, 64)); // < L, checked by the pre-checks
  // k = SHA-512(R || A || M) mod L, over the signature's own bytes (RFC 8032 section 5.1.7 step 2).
  const challenge = createHash('sha512').update(rBytes).update(publicKey).update(message);
  const k = littleEndianToBigInt(challenge.digest()) % L;
  // [S]B = R + [k]A (RFC 8032 section 5.1.7 step 3, the form "sufficient, but not required").
  // multiply(n, false) is noble's variable-time path; verification handles no secrets.
  return Point.BASE.multiply(S, false).equals(R.add(A.multiply(k, false)));
}

export const nobleBackend: Ed25519Backend = Object.freeze({
  name: 'noble',

  publicKeyOf(secretKey: Uint8Array): Uint8Array {
    return ed.getPublicKey(secretKey);
  },

  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
    return ed.sign(message, secretKey);
  },

  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    try {
      // [P-2.2] steps 1-4, then step 5.
      return passesStrictPrechecks(signature, publicKey) && verifyEquation(signature, message, publicKey);
    } catch {
      // A point that does not decode, or a non-Uint8Array argument from an untyped caller.
      return false;
    }
  },
});
