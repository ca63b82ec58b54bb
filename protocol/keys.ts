// Key pairs and enrolment-time public key validation [P-2.3]. A device key is checked once, when it
// is enrolled; afterwards the per-signature pre-checks of clause 2.2 keep verification strict.

import { getRandomValues } from 'node:crypto';
import { Point } from '@noble/ed25519';
import { bytesEqual } from './bytes.js';
import { defaultBackend, type Ed25519Backend, type KeyPair } from './crypto/index.js';
import { fail, ok, type Result } from './errors.js';

const KEY_LENGTH = 32;
const LOWERCASE_HEX_KEY = /^[0-9a-f]{64}$/;

/** A key pair from a fresh random 32-byte seed (RFC 8032 section 5.1.5). */
export function generateKeyPair(backend: Ed25519Backend = defaultBackend): KeyPair {
  return keyPairFromSeed(getRandomValues(new Uint8Array(KEY_LENGTH)), backend);
}

/** The key pair of a 32-byte seed; throws TypeError on another length (programmer error). */
export function keyPairFromSeed(seed: Uint8Array, backend: Ed25519Backend = defaultBackend): KeyPair {
  if (!(seed instanceof Uint8Array) || seed.length !== KEY_LENGTH) {
    throw new TypeError(`Ed25519 seed must be a ${KEY_LENGTH}-byte Uint8Array`);
  }
  const secretKey = Uint8Array.from(seed); // owned copy: the caller may reuse its buffer
  return Object.freeze({ secretKey, publicKey: backend.publicKeyOf(secretKey) });
}

// Keys that passed, so that one seen again is not decompressed again: validity is a fact of the
// 32 bytes. An agent decodes its own key in every GRANT's channel record, and a point decompression
// in JavaScript costs more than the signature check beside it (a fifth of a fleet process's CPU
// while thousands of agents connected). Only keys that pass are kept; bounded, and cleared when
// full, like the partition cache.
const VALID_KEYS_LIMIT = 65_536;
const validKeys = new Set<string>();

/**
 * Validates a public key for enrolment [P-2.3], in the clause's order: 32 bytes (KEY_LENGTH),
 * decodes to a curve point (KEY_NOT_ON_CURVE), re-encodes to the same bytes (KEY_NON_CANONICAL:
 * y >= p, or x = -0), not of small order (KEY_SMALL_ORDER). Returns an owned copy of the key.
 * A key that passes also passes the A checks of clause 2.2 (steps 3 and 4).
 */
export function validatePublicKey(bytes: Uint8Array): Result<Uint8Array> {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_LENGTH) {
    return fail('KEY_LENGTH', `expected ${KEY_LENGTH} bytes`);
  }
  // 'latin1' maps each byte to one character: a cheap, exact key.
  const id = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (validKeys.has(id)) return ok(Uint8Array.from(bytes));
  let point: InstanceType<typeof Point>;
  try {
    // Lenient (ZIP-215) decoding accepts y >= p and x = -0, so that such keys get the precise
    // KEY_NON_CANONICAL code below instead of KEY_NOT_ON_CURVE.
    point = Point.fromBytes(bytes, true);
  } catch {
    return fail('KEY_NOT_ON_CURVE');
  }
  if (!bytesEqual(point.toBytes(), bytes)) return fail('KEY_NON_CANONICAL');
  if (point.isSmallOrder()) return fail('KEY_SMALL_ORDER');
  if (validKeys.size >= VALID_KEYS_LIMIT) validKeys.clear();
  validKeys.add(id);
  return ok(Uint8Array.from(bytes));
}

/**
 * Parses a device key as written in topics and configuration: exactly 64 lowercase hex characters
 * [P-6.1] (an uppercase spelling would name a second topic for the same device), then validates it.
 */
export function parsePublicKeyHex(hex: string): Result<Uint8Array> {
  if (typeof hex !== 'string' || hex.length !== 2 * KEY_LENGTH) {
    return fail('KEY_LENGTH', `expected ${2 * KEY_LENGTH} hex characters`);
  }
  if (!LOWERCASE_HEX_KEY.test(hex)) return fail('DECODE_FIELD', 'expected lowercase hex');
  return validatePublicKey(Uint8Array.from(Buffer.from(hex, 'hex')));
}
