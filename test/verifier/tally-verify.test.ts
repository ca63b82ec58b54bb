// tally-verify as a customer runs it: the single bundled file, copied alone into an empty
// directory and run by a bare Node with an empty environment (no node_modules anywhere, no native
// addon), on a real bundle from a hub, a tampered copy and junk.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../hub/helpers/hub.js';
import { makeBundles, type Bundles } from './bundle.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

describe('tally-verify, standalone', () => {
  const tmp = tempDir('tally-verify-');
  const alone = join(tmp.dir, 'alone');
  let bundles: Bundles;

  beforeAll(async () => {
    const build = spawnSync(
      process.execPath,
      ['scripts/build.mjs', '--only', 'tally-verify', '--outdir', join(tmp.dir, 'build')],
      { encoding: 'utf8' },
    );
    expect(build.status, build.stderr).toBe(0);
    spawnSync('mkdir', [alone]);
    copyFileSync(join(tmp.dir, 'build', 'tally-verify.js'), join(alone, 'tally-verify.js'));
    bundles = await makeBundles(tmp.dir);
    writeFileSync(join(alone, 'epoch.json'), bundles.valid);
    writeFileSync(join(alone, 'tampered.json'), bundles.tampered);
    writeFileSync(join(alone, 'junk.json'), bundles.valid.slice(0, 40));
  });
  afterAll(() => tmp.cleanup());

  /** node tally-verify.js ARGS in the lone directory, with nothing in the environment. */
  const verify = (args: string[], input?: string) =>
    spawnSync(process.execPath, ['tally-verify.js', ...args], {
      cwd: alone,
      env: {},
      encoding: 'utf8',
      timeout: 30_000,
      ...(input !== undefined ? { input } : {}),
    });

  it('is one file that loads no package and no native addon', () => {
    const text = readFileSync(join(alone, 'tally-verify.js'), 'utf8');
    // Every import and require names a Node built-in (node:...), none a package or a .node file.
    const specifiers = [...text.matchAll(/(?:\brequire\(|\bfrom |\bimport\()\s*["']([^"']+)["']/g)].map((m) => m[1]!);
    expect(specifiers.length).toBeGreaterThan(3);
    for (const s of specifiers) expect(s).toMatch(/^node:|^\.command\(\)$/);
  });

  it('accepts a valid bundle: exit 0 and what it proves', () => {
    const r = verify(['epoch.json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^valid: epoch 1 of test-net, hub [0-9a-f]{64}\n/);
    expect(r.stdout).toContain('2 of 2 entries (complete), total delta 92'); // 10 x 7 + 11 x 2
  });

  it('rejects a tampered bundle: exit 1 and every reason', () => {
    const r = verify(['tampered.json']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^INVALID: \d+ problem\(s\)/);
    expect(r.stdout).toMatch(/SIG_INVALID|PROOF_INVALID|BAD_LINK|DECODE_/);
  });

  it('checks the hub key when given one', () => {
    expect(verify(['epoch.json', '--hub-key', bundles.hubKey]).status).toBe(0);
    const other = verify(['epoch.json', '--hub-key', 'ab'.repeat(32)]);
    expect(other.status).toBe(1);
    expect(verify(['epoch.json', '--hub-key', 'xyz']).status).toBe(2);
  });

  it('reads standard input with -, and prints JSON with --json', () => {
    const r = verify(['--json', '-'], bundles.valid);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { valid: boolean; summary: { totalDeltaAmount: string; epoch: string } };
    expect(out).toMatchObject({ valid: true, summary: { totalDeltaAmount: '92', epoch: '1' } });
    const bad = JSON.parse(verify(['--json', 'tampered.json']).stdout) as { valid: boolean; reasons: unknown[] };
    expect(bad.valid).toBe(false);
    expect(bad.reasons.length).toBeGreaterThan(0);
  });

  it('exits 2 for an unreadable file and for usage errors; --version and --help exit 0', () => {
    expect(verify(['junk.json']).status).toBe(2);
    expect(verify(['missing.json']).stderr).toMatch(/cannot read missing\.json/);
    expect(verify([]).status).toBe(2);
    expect(verify(['epoch.json', '--no-such-option']).status).toBe(2);
    const version = verify(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = verify(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Exit status/);
  });
});
