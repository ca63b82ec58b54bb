// Both Ed25519 backends against external vectors [P-2.1, P-2.4, P-2.5]. The vector files live in
// test/vectors/external/ (copied from the project's shared vectors; provenance: test/vectors/README.md).

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hexToBytes, toHex } from '../../protocol/bytes.js';
import { backends, SMALL_ORDER_ENCODINGS } from '../../protocol/crypto/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const vectorsDir = path.resolve(repoRoot, 'test/vectors/external');
if (!existsSync(vectorsDir)) {
  throw new Error(
    `Ed25519 test vectors not found at ${vectorsDir} (expected test/vectors/external/ in the ` +
      'repository; see test/vectors/README.md). These tests must not be skipped.',
  );
}

function readVectors<T>(file: string): T {
  return JSON.parse(readFileSync(path.join(vectorsDir, file), 'utf8')) as T;
}

interface RfcVector {
  priv: string;
  pub: string;
  msg: string;
  sig: string;
}
interface WycheproofFile {
  numberOfTests: number;
  testGroups: {
    publicKey: { pk: string };
    tests: { tcId: number; comment: string; msg: string; sig: string; result: 'valid' | 'invalid' | 'acceptable' }[];
  }[];
}
interface CctvVector {
  number: number;
  key: string;
  sig: string;
  msg: string;
  flags: string[] | null;
}

describe('RFC 8032 section 7.1 vectors', () => {
  const vectors = readVectors<RfcVector[]>('rfc8032-ed25519.json');

  it('has vectors, starting with TEST 1', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(4);
    expect(vectors[0]!.pub).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  });

  for (const backend of backends) {
    it(`${backend.name}: derives the public key, signs byte for byte, verifies`, () => {
      for (const v of vectors) {
        const secret = hexToBytes(v.priv);
        const msg = hexToBytes(v.msg);
        expect(toHex(backend.publicKeyOf(secret))).toBe(v.pub);
        expect(toHex(backend.sign(msg, secret))).toBe(v.sig);
        expect(backend.verify(hexToBytes(v.sig), msg, hexToBytes(v.pub))).toBe(true);
      }
    });
  }
});

describe('Wycheproof ed25519_test.json [P-2.5]', () => {
  const file = readVectors<WycheproofFile>('wycheproof-ed25519_test.json');
  const cases = file.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, pk: g.publicKey.pk })));

  it('has all 150 cases, each valid or invalid', () => {
    expect(cases.length).toBe(150);
    expect(file.numberOfTests).toBe(150);
    for (const c of cases) expect(['valid', 'invalid']).toContain(c.result);
  });

  for (const backend of backends) {
    it(`${backend.name}: gives exactly the expected verdict on every case`, () => {
      const wrong: string[] = [];
      for (const c of cases) {
        const verdict = backend.verify(hexToBytes(c.sig), hexToBytes(c.msg), hexToBytes(c.pk));
        if (verdict !== (c.result === 'valid')) wrong.push(`tcId ${c.tcId} (${c.comment}): got ${verdict}`);
      }
      expect(wrong).toEqual([]);
    });
  }
});

describe('C2SP CCTV ed25519vectors.json [P-2.4]', () => {
  const vectors = readVectors<CctvVector[]>('cctv-ed25519vectors.json');
  const REJECTED_FLAGS = ['low_order_A', 'low_order_R', 'non_canonical_A', 'non_canonical_R'];
  const mustReject = (v: CctvVector) => (v.flags ?? []).some((f) => REJECTED_FLAGS.includes(f));
  // CCTV messages are ASCII strings, not hex.
  const verdicts = vectors.map((v) => {
    const [sig, msg, key] = [hexToBytes(v.sig), new TextEncoder().encode(v.msg), hexToBytes(v.key)];
    return { v, byBackend: backends.map((b) => b.verify(sig, msg, key)) };
  });

  it('has all 914 vectors', () => {
    expect(vectors.length).toBe(914);
  });

  it('every backend rejects each low-order or non-canonical A or R', () => {
    const accepted = verdicts
      .filter(({ v, byBackend }) => mustReject(v) && byBackend.some(Boolean))
      .map(({ v, byBackend }) => `#${v.number} ${v.flags?.join(',')}: ${byBackend}`);
    expect(verdicts.filter(({ v }) => mustReject(v)).length).toBeGreaterThan(0);
    expect(accepted).toEqual([]);
  });

  it('the backends agree on every other vector, and accept some of them', () => {
    const judged = verdicts.filter(({ v }) => !mustReject(v));
    const disagreements = judged
      .filter(({ byBackend }) => byBackend.some((x) => x !== byBackend[0]))
      .map(({ v, byBackend }) => `#${v.number} ${v.flags?.join(',')}: ${byBackend}`);
    expect(disagreements).toEqual([]);
    expect(judged.filter(({ byBackend }) => byBackend[0]).length).toBeGreaterThan(0);
  });

  it('rejects low_order_residue: the equation is cofactorless [P-2.2 step 5]', () => {
    const residue = verdicts.filter(({ v }) => !mustReject(v) && v.flags?.includes('low_order_residue'));
    expect(residue.length).toBe(63); // the count clause 2.4 states
    for (const { byBackend } of residue) expect(byBackend.every((x) => x === false)).toBe(true);
  });

  it('accepts every vector whose only flags are low_order_component_*', () => {
    // With small-order points excluded and no residue, [S]B = R + [k]A holds for these vectors.
    const components = verdicts.filter(({ v }) =>
      (v.flags ?? []).every((f) => f === 'low_order_component_A' || f === 'low_order_component_R'),
    );
    expect(components.length).toBe(43); // the count clause 2.4 states
    for (const { byBackend } of components) expect(byBackend.every(Boolean)).toBe(true);
  });
});

describe('the small-order blocklist [P-2.2 step 4]', () => {
  it('is exactly the 14 encodings listed in the CCTV README', () => {
    const readme = readFileSync(path.join(vectorsDir, 'cctv-ed25519-README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Low-order edwards25519 point encodings'));
    const listed = [...section.matchAll(/^\s*([0-9a-f]{64})\b/gm)].map((m) => m[1]);
    expect(listed.length).toBe(14);
    expect([...SMALL_ORDER_ENCODINGS].sort()).toEqual([...listed].sort());
  });
});
