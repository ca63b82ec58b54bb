// Clauses 8.5 and 8.6 of docs/protocol.md list every check a bundle verifier makes, numbered in the
// order the code makes them. This test holds the code and the list together: each check the code
// reports is the numbered item it cites and gives the code that item names, every item is made by
// the code, and on any corrupted bundle the reasons come out in the order of the list.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, verifyBundle, type BundleJson } from '../../protocol/index.js';
import { settledEpoch } from './fixtures.js';

const spec = readFileSync('docs/protocol.md', 'utf8');

/** The numbered items of a clause: number -> text (continuation lines joined). */
function items(clause: string): Map<number, string> {
  const start = spec.indexOf(`- **${clause}**`);
  const end = spec.indexOf('\n- **', start + 1);
  const out = new Map<number, string>();
  let current: number | undefined;
  for (const line of spec.slice(start, end).split('\n')) {
    const m = /^ {2}(\d+)\. (.*)$/.exec(line);
    if (m) out.set((current = Number(m[1])), m[2]!);
    else if (current !== undefined && /^ {5}\S/.test(line)) out.set(current, `${out.get(current)!} ${line.trim()}`);
    else current = undefined;
  }
  return out;
}

/** (check, code) pairs reported in a source file; `code` is undefined for a decoder's own code. The
 *  shape helpers of bundle-fields.ts take the check number and report DECODE_FIELD. */
function reports(file: string): { check: number; code: string | undefined }[] {
  const text = readFileSync(file, 'utf8');
  const direct = [...text.matchAll(/\(\s*(\d+),\s*(?:'([A-Z][A-Z0-9_]+)'|[a-z]+\.code)/g)].map((m) => ({
    check: Number(m[1]),
    code: m[2],
  }));
  const viaHelpers = [...text.matchAll(/,\s*(\d+),\s*report\b/g)].map((m) => ({
    check: Number(m[1]),
    code: 'DECODE_FIELD',
  }));
  return [...direct, ...viaHelpers];
}

describe.each([
  ['8.5', ['protocol/verify-bundle.ts', 'protocol/verify-bundle-entry.ts'], 35],
  ['8.6', ['protocol/verify-bundle-series.ts'], 5],
] as const)('clause %s and the code', (clause, files, count) => {
  const list = items(clause);
  const made = files.flatMap(reports);

  it(`numbers its checks 1..${count}`, () =>
    expect([...list.keys()]).toEqual(Array.from({ length: count }, (_, i) => i + 1)));

  it('names, in each item the code cites, the code it reports', () => {
    for (const { check, code } of made) {
      const text = list.get(check);
      expect(text, `${clause}.${check}`).toBeDefined();
      if (code === undefined) expect(text, `${clause}.${check}`).toMatch(/decoding code|its reasons/);
      else expect(text, `${clause}.${check} ${code}`).toContain(`\`${code}\``);
    }
  });

  it('makes every check it lists', () => {
    const cited = new Set(made.map((m) => m.check));
    const missing = [...list.keys()].filter((n) => !cited.has(n));
    expect(missing).toEqual([]);
  });
});

describe('clause 8.5: reasons come out in the order of the list', () => {
  const { bundle } = settledEpoch(1, true);
  const hexPaths: string[][] = [
    ['epoch', 'record'],
    ['epoch', 'signature'],
  ];
  for (const key of Object.keys(bundle.entries[0]!)) if (key !== 'proof') hexPaths.push(['entries', '0', key]);
  const checks = (b: unknown) => {
    const v = verifyBundle(b);
    return v.ok ? [] : v.reasons.map((r) => Number(r.clause.split('.')[2]));
  };
  const nondecreasing = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! <= x);

  it('for one byte flipped anywhere in a one-entry bundle', () => {
    fc.assert(
      fc.property(fc.constantFrom(...hexPaths), fc.nat(), fc.integer({ min: 1, max: 255 }), (path, at, mask) => {
        const copy = structuredClone(bundle) as unknown as Record<string, Record<string, unknown>>;
        const node = path.slice(0, -1).reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, copy);
        const key = path[path.length - 1]!;
        const bytes = fromHex(node[key] as string)!;
        bytes[at % bytes.length]! ^= mask;
        node[key] = toHex(bytes);
        const found = checks(copy);
        expect(found.length).toBeGreaterThan(0);
        expect(nondecreasing(found), found.join(' ')).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('for every field replaced by arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.constantFrom(...hexPaths), fc.jsonValue(), (path, value) => {
        const copy = structuredClone(bundle) as BundleJson as unknown as Record<string, Record<string, unknown>>;
        const node = path.slice(0, -1).reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, copy);
        node[path[path.length - 1]!] = value;
        const found = checks(copy);
        expect(nondecreasing(found), found.join(' ')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
