// The fast Ed25519 backend, on node:crypto (OpenSSL) [P-2.1]. OpenSSL takes keys as KeyObjects, so
// raw 32-byte keys are wrapped in their fixed DER prefix (RFC 8410) and the KeyObjects are cached.
// Verification runs Tally's pre-checks first [P-2.2 steps 1-4]; OpenSSL then checks the
// cofactorless equation [S]B = R + [k]A (step 5).

import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { BoundedCache } from './key-cache.js';
import { PUBLIC_KEY_LENGTH, passesStrictPrechecks } from './policy.js';
import type { Ed25519Backend } from './types.js';

const SECRET_KEY_LENGTH = 32;

// RFC 8410 section 7 (PKCS #8 OneAsymmetricKey) and section 4 (SubjectPublicKeyInfo) for
// id-Ed25519 (1.3.101.112): everything before the 32 raw key bytes is constant.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface NodeBackendOptions {
  /** Public KeyObjects kept (the hub's working set of device keys). Default 16384. */
  readonly maxPublicKeys?: number;
  /** Private KeyObjects kept (an agent signs with one key, a hub with one). Default 16. */
  readonly maxSecretKeys?: number;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function asUint8Array(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function checkSecretKey(secretKey: Uint8Array): void {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SECRET_KEY_LENGTH) {
    throw new TypeError(`Ed25519 secret key must be a ${SECRET_KEY_LENGTH}-byte Uint8Array`);
  }
}

/** A node:crypto backend with its own key caches; `nodeBackend` is the shared default instance. */
export function createNodeBackend(options: NodeBackendOptions = {}): Ed25519Backend {
  const publicKeys = new BoundedCache<KeyObject>(options.maxPublicKeys ?? 16384);
  const secretKeys = new BoundedCache<KeyObject>(options.maxSecretKeys ?? 16);

  // 'latin1' maps each byte to one character: a cheap, exact cache key.
  const privateKeyObject = (secretKey: Uint8Array): KeyObject =>
    secretKeys.getOrCreate(asBuffer(secretKey).toString('latin1'), () =>
      createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' }),
    );

  const publicKeyObject = (publicKey: Uint8Array): KeyObject =>
    publicKeys.getOrCreate(asBuffer(publicKey).toString('latin1'), () =>
      createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }),
    );

  return Object.freeze({
    name: 'node',

    publicKeyOf(secretKey: Uint8Array): Uint8Array {
      checkSecretKey(secretKey);
      const spki = createPublicKey(privateKeyObject(secretKey)).export({ format: 'der', type: 'spki' });
      return Uint8Array.from(spki.subarray(SPKI_PREFIX.length, SPKI_PREFIX.length + PUBLIC_KEY_LENGTH));
    },

    sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
      checkSecretKey(secretKey);
      // Algorithm null: Ed25519 is pure EdDSA, the key type picks it (RFC 8032 section 5.1.6).
      return asUint8Array(sign(null, message, privateKeyObject(secretKey)));
    },

    verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
      try {
        if (!passesStrictPrechecks(signature, publicKey)) return false;
        return verify(null, message, publicKeyObject(publicKey), signature);
      } catch {
        // A key OpenSSL cannot load, or a non-Uint8Array argument from an untyped caller.
        return false;
      }
    },
  });
}

export const nodeBackend: Ed25519Backend = createNodeBackend();
