// `--version` on every command prints package.json's version: from the source tree (tsx) and from
// bundles built as `npm run build` builds dist/ (where esbuild inlines the version).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const version = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const COMMANDS = [
  ['tally-agent', 'agent/cli.ts'],
  ['tally-hub', 'hub/cli.ts'],
  ['tally-sim', 'simulator/cli.ts'],
] as const;

const run = (args: string[]) => spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8', timeout: 60_000 });

describe('--version', () => {
  // Inside the repository (reports/ is ignored), so the bundles find better-sqlite3 as dist/ does.
  let out: string;
  beforeAll(async () => {
    mkdirSync(path.join(REPO, 'reports'), { recursive: true });
    out = mkdtempSync(path.join(REPO, 'reports', 'bundles-'));
    const build = spawnSync(
      process.execPath,
      ['scripts/build.mjs', '--only', 'tally-agent,tally-hub,tally-sim,tally-sim-shard', '--outdir', out],
      { cwd: REPO, encoding: 'utf8', timeout: 120_000 },
    );
    expect(build.status, build.stderr).toBe(0);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it.each(COMMANDS)('%s from source prints the package version', (_name, src) => {
    const r = run(['--import', 'tsx', src, '--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${version}\n`);
    expect(r.status).toBe(0);
  });

  it.each(COMMANDS)('%s bundled prints the package version', (name) => {
    const r = run([path.join(out, `${name}.js`), '--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${version}\n`);
    expect(r.status).toBe(0);
  });
});
