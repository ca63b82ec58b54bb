// The settlement Merkle tree [P-8.3]. Leaves and inner nodes are hashed under different tags, and a
// level with an odd count carries its last node up unchanged instead of pairing it with itself: a
// duplicated last node would give [a, b, c] and [a, b, c, c] the same root.

import { bytesEqual } from './bytes.js';
import { taggedHash } from './hash.js';

export interface MerkleProof {
  /** Position of the leaf among the epoch's entries (sorted by channel id). */
  index: number;
  leafCount: number;
  /** One sibling per level where the node was paired, from the leaf up. */
  siblings: Uint8Array[];
}

/** Largest leaf count: the epoch record's entryCount is a u32 [P-8.4]. */
export const MAX_LEAVES = 0xffffffff;

export const leafHash = (entryBytes: Uint8Array): Uint8Array => taggedHash('merkle-leaf', entryBytes);
export const nodeHash = (left: Uint8Array, right: Uint8Array): Uint8Array => taggedHash('merkle-node', left, right);
/** Root of an epoch with no entries: H(tag("merkle-empty")) [P-8.3]. */
export const EMPTY_ROOT: Uint8Array = taggedHash('merkle-empty');

/** The level above `level`: pairs hashed left to right, an odd last node carried up as is. */
function parentLevel(level: readonly Uint8Array[]): Uint8Array[] {
  const up: Uint8Array[] = [];
  for (let i = 0; i + 1 < level.length; i += 2) up.push(nodeHash(level[i]!, level[i + 1]!));
  if (level.length % 2 === 1) up.push(level[level.length - 1]!);
  return up;
}

/** Root over entry bytes in the given order (the caller sorts them by channel id) [P-8.3]. */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT;
  const levels = levelsOf(leaves);
  return levels[levels.length - 1]![0]!;
}

/** Every level of the tree, leaf hashes first, the root level (one node) last. */
function levelsOf(leaves: readonly Uint8Array[]): Uint8Array[][] {
  const levels = [leaves.map(leafHash)];
  while (levels[levels.length - 1]!.length > 1) levels.push(parentLevel(levels[levels.length - 1]!));
  return levels;
}

function proofFromLevels(levels: readonly Uint8Array[][], index: number): MerkleProof {
  const siblings: Uint8Array[] = [];
  let i = index;
  for (const level of levels) {
    if (level.length === 1) break;
    const carried = i === level.length - 1 && level.length % 2 === 1;
    if (!carried) siblings.push(level[i ^ 1]!);
    i = Math.floor(i / 2);
  }
  return { index, leafCount: levels[0]!.length, siblings };
}

/** Inclusion proof of `leaves[index]`. Throws a RangeError for an index outside the leaves. */
export function merkleProof(leaves: readonly Uint8Array[], index: number): MerkleProof {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`leaf index ${index} outside 0..${leaves.length - 1}`);
  }
  return proofFromLevels(levelsOf(leaves), index);
}

/** Proofs of every leaf, building the tree once (an epoch's bundle needs all of them). */
export function merkleProofs(leaves: readonly Uint8Array[]): MerkleProof[] {
  if (leaves.length === 0) return [];
  const levels = levelsOf(leaves);
  return leaves.map((_, index) => proofFromLevels(levels, index));
}

/**
 * Walks from the leaf to the root [P-8.3], skipping the levels where the node is the carried-up
 * last one, and requires every sibling to be used. False for any malformed proof; never throws.
 * The root proves membership on its own, but not the leaf count: take leafCount from a signed
 * source (the epoch record's entryCount [P-8.4]), as verifyBundle does.
 */
export function verifyMerkleProof(leafBytes: Uint8Array, proof: MerkleProof, root: Uint8Array): boolean {
  if (!(leafBytes instanceof Uint8Array) || !(root instanceof Uint8Array) || root.length !== 32) return false;
  if (typeof proof !== 'object' || proof === null || !Array.isArray(proof.siblings)) return false;
  const { index, leafCount, siblings } = proof;
  if (!Number.isInteger(leafCount) || leafCount < 1 || leafCount > MAX_LEAVES) return false;
  if (!Number.isInteger(index) || index < 0 || index >= leafCount) return false;

  let node = leafHash(leafBytes);
  let i = index;
  let n = leafCount;
  let used = 0;
  while (n > 1) {
    const carried = i === n - 1 && n % 2 === 1;
    if (!carried) {
      const sibling: unknown = siblings[used++];
      if (!(sibling instanceof Uint8Array) || sibling.length !== 32) return false;
      node = i % 2 === 0 ? nodeHash(node, sibling) : nodeHash(sibling, node);
    }
    i = Math.floor(i / 2);
    n = Math.ceil(n / 2);
  }
  return used === siblings.length && bytesEqual(node, root);
}
