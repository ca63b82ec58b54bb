// The committed contract build is what solc makes of contracts/TallyAnchor.sol today: edit the
// source without `npm run contract` and this fails. (The hub runs the committed file and never
// needs the compiler; verifiers compare deployed code with the committed runtime hash.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ARTIFACT_PATH, artifactSource, compileTallyAnchor } from '../../scripts/compile-contract.mjs';
import { TALLY_ANCHOR_COMPILER } from '../../hub/anchor/contract.js';

describe('TallyAnchor build', () => {
  it('the committed artifact matches a fresh compilation of the source', async () => {
    const compiled = await compileTallyAnchor();
    expect(compiled.compiler).toBe(TALLY_ANCHOR_COMPILER.version);
    expect(await artifactSource(compiled)).toBe(readFileSync(ARTIFACT_PATH, 'utf8'));
  });

  it('pins the exact solc version, so a rebuild cannot change the bytes behind a version range', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { devDependencies: Record<string, string> };
    expect(pkg.devDependencies.solc).toMatch(/^\d+\.\d+\.\d+$/);
    expect(TALLY_ANCHOR_COMPILER.version.startsWith(`${pkg.devDependencies.solc}+`)).toBe(true);
  });
});
