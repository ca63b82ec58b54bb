// Ed25519 for Tally [P-2]: two interchangeable backends behind one interface. Callers take an
// `Ed25519Backend` parameter defaulting to `defaultBackend`; tests and benchmarks run `backends`.

import { nobleBackend } from './noble.js';
import { nodeBackend } from './node.js';
import type { Ed25519Backend } from './types.js';

export type { Ed25519Backend, KeyPair } from './types.js';
export { nobleBackend } from './noble.js';
export { createNodeBackend, nodeBackend, type NodeBackendOptions } from './node.js';
export {
  isCanonicalY,
  isScalarBelowL,
  isSmallOrderEncoding,
  passesStrictPrechecks,
  PUBLIC_KEY_LENGTH,
  SIGNATURE_LENGTH,
  SMALL_ORDER_ENCODINGS,
} from './policy.js';

/** node:crypto (OpenSSL): roughly ten times faster than noble at both signing and verifying. */
export const defaultBackend: Ed25519Backend = nodeBackend;

/** Every backend, reference first. Tests and benchmarks iterate over this list. */
export const backends: readonly Ed25519Backend[] = Object.freeze([nobleBackend, nodeBackend]);
