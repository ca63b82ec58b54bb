// What protocol/ takes from node:crypto, for the browser build of the bundle verifier (build.mjs
// maps `node:crypto` here for verify-worker.js only). Hashes come from @noble/hashes (audited, the
// same author as @noble/ed25519). Signing and OpenSSL key objects do not exist here: the page
// verifies with protocol's nobleBackend, so the node backend's entry points only throw.

import { sha256, sha512 } from '@noble/hashes/sha2.js';

type Algorithm = 'sha256' | 'sha512';
const HASHES = { sha256, sha512 } as const;

function hasher(algorithm: string) {
  const h = HASHES[algorithm as Algorithm];
  if (h === undefined) throw new Error(`hash ${algorithm} is not available in the browser verifier`);
  return h;
}

export function createHash(algorithm: string) {
  const state = hasher(algorithm).create();
  const self = {
    update(data: Uint8Array) {
      state.update(data);
      return self;
    },
    digest(): Uint8Array {
      return state.digest();
    },
  };
  return self;
}

export function hash(algorithm: string, data: Uint8Array): Uint8Array {
  return hasher(algorithm)(data);
}

export function getRandomValues<T extends Uint8Array>(array: T): T {
  return globalThis.crypto.getRandomValues(array);
}

function unavailable(): never {
  throw new Error('node:crypto keys and signing are not available in the browser verifier');
}

export const createPrivateKey = unavailable;
export const createPublicKey = unavailable;
export const sign = unavailable;
export const verify = unavailable;
