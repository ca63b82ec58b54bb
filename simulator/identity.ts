// Who device i is, as a pure function of (seed, i): its key, its product and its random stream.
// The main thread (which enrols the fleet) and a worker thread (which runs the devices) derive the
// same devices without shipping keys around, and a run repeats exactly for the same seed.
import { keyPairFromSeed, type Ed25519Backend, type KeyPair } from '../protocol/index.js';
import { createRng, type Rng } from './rng.js';

/** The mix of metered goods: unit and integer price per unit, in minor units. */
export const PRODUCTS = [
  { unit: 'Wh', pricePerUnit: 25n },
  { unit: 'L', pricePerUnit: 3n },
  { unit: 'KiB', pricePerUnit: 1n },
  { unit: 's', pricePerUnit: 10n },
] as const;

export function deviceRng(seed: number, index: number): Rng {
  return createRng(seed).fork(1).fork(index);
}

/** Simulation keys: deterministic from the seed. Never a way to make a real device key. */
export function deviceKeyPair(seed: number, index: number, backend?: Ed25519Backend): KeyPair {
  const rng = deviceRng(seed, index).fork(4);
  const secret = new Uint8Array(32);
  for (let b = 0; b < 32; b++) secret[b] = rng.int(0, 255);
  return keyPairFromSeed(secret, backend);
}

export function productOf(index: number) {
  return PRODUCTS[index % PRODUCTS.length]!;
}
