// The one small interface every Ed25519 backend implements [P-2.1]. Callers never import a backend
// directly: they take a `Signer`/`Verifier` so that the reference (noble) and the fast (node:crypto)
// implementation are interchangeable and tested against the same vectors.

/** A 32-byte Ed25519 seed (the secret key) and its 32-byte public key. */
export interface KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface Ed25519Backend {
  /** Short name used in benchmarks and logs: 'noble' | 'node'. */
  readonly name: string;
  /** Public key of a 32-byte seed. Throws only on a seed of the wrong length (programmer error). */
  publicKeyOf(secretKey: Uint8Array): Uint8Array;
  /** Deterministic RFC 8032 signature. Throws only on arguments of the wrong length. */
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /**
   * Strict verification under Tally's policy [P-2.2]. Returns false for every invalid input,
   * including wrong lengths, non-canonical or small-order points and S >= L. Never throws.
   */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}
