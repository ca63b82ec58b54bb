// Anchoring settlement epoch roots on an EVM chain (docs/settlement.md, "Anchoring"). This surface
// needs no EVM library: codes, key files, targets and proofs. The operations that talk to a chain
// (deploy, publish, confirm) live in client.ts and come through loadAnchorClient(), so viem is
// loaded only by a hub or a command that anchors.

import type * as Client from './client.js';

export * from './codes.js';
export { readAnchorKey, writeAnchorKey } from './key-file.js';
export { parseProof, proofToJson, type AnchorProof, type AnchorProofJson, type Hex } from './proof.js';
export { assertBatch, targetOfRecord, type AnchorTarget } from './target.js';

export type AnchorClient = typeof Client;

/**
 * From the bundle: dist/tally-anchor.js beside it (scripts/build.mjs), with viem inside, read from
 * disk only now. From source (tsx, vitest): client.ts. The specifier is a variable so that esbuild
 * leaves the import alone instead of pulling viem into the hub's bundle.
 */
export function loadAnchorClient(): Promise<AnchorClient> {
  const specifier = import.meta.url.endsWith('.ts')
    ? './client.js'
    : new URL('./tally-anchor.js', import.meta.url).href;
  return import(specifier) as Promise<AnchorClient>;
}
