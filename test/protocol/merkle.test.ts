import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_ROOT,
  leafHash,
  merkleProof,
  merkleProofs,
  merkleRoot,
  nodeHash,
  taggedHash,
  toHex,
  verifyMerkleProof,
} from '../../protocol/index.js';

const leavesOf = (n: number, salt = 0): Uint8Array[] =>
  Array.from({ length: n }, (_, i) => Uint8Array.of(salt, i, i >> 8, 7));

describe('Merkle tree [P-8.3]', () => {
  it('hashes leaves and nodes under their own tags; the empty root is H(tag("merkle-empty"))', () => {
    const [a, b, c] = leavesOf(3);
    expect(leafHash(a!)).toEqual(taggedHash('merkle-leaf', a!));
    expect(nodeHash(a!, b!)).toEqual(taggedHash('merkle-node', a!, b!));
    expect(merkleRoot([])).toEqual(taggedHash('merkle-empty'));
    expect(EMPTY_ROOT).toEqual(taggedHash('merkle-empty'));
    expect(merkleRoot([a!])).toEqual(leafHash(a!));
    expect(merkleRoot([a!, b!])).toEqual(nodeHash(leafHash(a!), leafHash(b!)));
    // Odd last node carried up unchanged, not paired with itself.
    expect(merkleRoot([a!, b!, c!])).toEqual(nodeHash(nodeHash(leafHash(a!), leafHash(b!)), leafHash(c!)));
  });

  it('carries a lone node up through several levels (5 leaves)', () => {
    const l = leavesOf(5).map(leafHash);
    const four = nodeHash(nodeHash(l[0]!, l[1]!), nodeHash(l[2]!, l[3]!));
    expect(merkleRoot(leavesOf(5))).toEqual(nodeHash(four, l[4]!));
    expect(merkleProof(leavesOf(5), 4).siblings).toEqual([four]);
  });

  it('proves every index for 1..33 leaves, and only with the right leaf, sibling and index', () => {
    for (let n = 1; n <= 33; n++) {
      const leaves = leavesOf(n);
      const root = merkleRoot(leaves);
      const all = merkleProofs(leaves);
      for (let i = 0; i < n; i++) {
        const proof = merkleProof(leaves, i);
        expect(all[i]).toEqual(proof);
        expect(verifyMerkleProof(leaves[i]!, proof, root), `n=${n} i=${i}`).toBe(true);
        const changedLeaf = leaves[i]!.slice();
        changedLeaf[0]! ^= 1;
        expect(verifyMerkleProof(changedLeaf, proof, root)).toBe(false);
        proof.siblings.forEach((_, k) => {
          const siblings = proof.siblings.map((s) => s.slice());
          siblings[k]![31]! ^= 0x80;
          expect(verifyMerkleProof(leaves[i]!, { ...proof, siblings }, root)).toBe(false);
        });
        for (let j = 0; j < n; j++) {
          if (j !== i)
            expect(verifyMerkleProof(leaves[i]!, { ...proof, index: j }, root), `n=${n} i=${i} as ${j}`).toBe(false);
        }
        expect(verifyMerkleProof(leaves[i]!, { ...proof, index: n }, root)).toBe(false);
        expect(verifyMerkleProof(leaves[i]!, { ...proof, siblings: [...proof.siblings, root] }, root)).toBe(false);
        if (proof.siblings.length > 0) {
          expect(verifyMerkleProof(leaves[i]!, { ...proof, siblings: proof.siblings.slice(1) }, root)).toBe(false);
        }
      }
    }
  });

  it('does not bind the leaf count by itself: the signed epoch record does (entryCount)', () => {
    // [a, b, c]: the path of a is L(b), then L(c), exactly as for index 0 of 4 leaves. Membership
    // stays sound (only a real leaf hashes to a leaf position), which is why bundles require
    // proof.leafCount = entryCount of the signed record.
    const leaves = leavesOf(3);
    const proof = merkleProof(leaves, 0);
    expect(verifyMerkleProof(leaves[0]!, { ...proof, leafCount: 4 }, merkleRoot(leaves))).toBe(true);
    expect(verifyMerkleProof(leaves[0]!, { ...proof, leafCount: 2 }, merkleRoot(leaves))).toBe(false);
  });

  it('gives different leaf lists different roots, including a duplicated last leaf', () => {
    const roots = new Set<string>();
    let lists = 0;
    for (let n = 0; n <= 20; n++) {
      const leaves = leavesOf(n);
      roots.add(toHex(merkleRoot(leaves)));
      lists++;
      if (n > 0) {
        roots.add(toHex(merkleRoot([...leaves, leaves[n - 1]!]))); // the duplicate-last-leaf trick
        roots.add(toHex(merkleRoot([...leaves.slice(0, -1), leavesOf(n, 1)[n - 1]!])));
        lists += 2;
      }
    }
    expect(roots.size).toBe(lists);
    // A node is never a leaf: the inner node over [a, b] as a single leaf gives another root.
    const [a, b] = leavesOf(2);
    expect(merkleRoot([nodeHash(leafHash(a!), leafHash(b!))])).not.toEqual(merkleRoot([a!, b!]));
  });

  it('never accepts a proof for a random list from another random list', () => {
    const list = fc.array(fc.uint8Array({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(list, list, fc.nat(), (x, y, k) => {
        fc.pre(x.length !== y.length || x.some((leaf, i) => toHex(leaf) !== toHex(y[i]!)));
        expect(toHex(merkleRoot(x))).not.toBe(toHex(merkleRoot(y)));
        const i = k % x.length;
        expect(verifyMerkleProof(x[i]!, merkleProof(x, i), merkleRoot(y))).toBe(false);
      }),
    );
  });

  it('rejects malformed proofs without throwing', () => {
    const leaves = leavesOf(4);
    const root = merkleRoot(leaves);
    const proof = merkleProof(leaves, 1);
    const bad: unknown[] = [
      null,
      {},
      { ...proof, siblings: null },
      { ...proof, index: -1 },
      { ...proof, index: 1.5 },
      { ...proof, leafCount: 0 },
      { ...proof, leafCount: 2 ** 40 },
      { ...proof, siblings: ['x', 'y'] },
      { ...proof, siblings: [new Uint8Array(31), proof.siblings[1]] },
    ];
    for (const p of bad) expect(verifyMerkleProof(leaves[1]!, p as never, root)).toBe(false);
    expect(verifyMerkleProof(leaves[1]!, proof, new Uint8Array(31))).toBe(false);
    expect(() => merkleProof(leaves, 4)).toThrow(RangeError);
    expect(() => merkleProof([], 0)).toThrow(RangeError);
    expect(merkleProofs([])).toEqual([]);
  });
});
