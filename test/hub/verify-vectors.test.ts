// `tally-hub verify`, as a real process, on every negative bundle vector of
// test/vectors/tally-v1-negative.json: exit 1 and exactly the stated reasons [P-8.5]; each negative
// series of bundles given together: exit 1 with its reason [P-8.6]; the accepted ones: exit 0, a
// version-1 bundle with the warning that its deltas are hub-attested.

import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEGATIVE_VECTORS_PATH } from '../../scripts/make-vectors.js';
import { tempDir } from './helpers/hub.js';

// The vectors file is untyped JSON read field by field below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const file: Json = JSON.parse(readFileSync(NEGATIVE_VECTORS_PATH, 'utf8'));

// The CLI bundled from source as `npm run build` bundles it (beside node_modules, for the native
// SQLite addon), so each of the many runs below starts in a fraction of what tsx needs.
const bundleDir = join(process.cwd(), '.tmp', `verify-vectors-${process.pid}`);
const bundled = join(bundleDir, 'tally-hub.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bundled, ...args], { cwd: process.cwd() }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  mkdirSync(bundleDir, { recursive: true });
  await build({
    entryPoints: ['hub/cli.ts'],
    outfile: bundled,
    bundle: true,
    platform: 'node',
    target: 'node20.19',
    format: 'esm',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    external: ['better-sqlite3'],
    logLevel: 'warning',
  });
}, 60_000);
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

/** Runs `jobs` at most `n` at a time (the CLI is a process each; the machine is shared). */
async function limited<T>(n: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

describe('tally-hub verify on the negative vectors', () => {
  const tmp = tempDir('tally-verify-');
  afterAll(() => tmp.cleanup());
  const write = (name: string, json: unknown) => {
    const path = join(tmp.dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(json, null, 2));
    return path;
  };
  const hubKey = file.keys.hub.publicKey as string;

  it('rejects every negative bundle with its stated reasons, exit 1', async () => {
    const cases = file.bundles as Json[];
    const runs = await limited(
      4,
      cases.map((c) => () => cli(['verify', write(c.name, c.bundle), '--json', '--hub-key', hubKey])),
    );
    cases.forEach((c, i) => {
      const run = runs[i]!;
      expect(run.code, `${c.name}: ${run.stderr}`).toBe(1);
      const out = JSON.parse(run.stdout) as { valid: boolean; reasons: { clause: string; code: string }[] };
      expect(out.valid).toBe(false);
      expect(
        out.reasons.map((r) => `${r.clause} ${r.code}`),
        c.name,
      ).toEqual(c.reasons);
    });
  }, 120_000);

  it('rejects every negative series given together (each bundle is valid alone: negative-vectors.test.ts)', async () => {
    const cases = file.series as Json[];
    const runs = await limited(
      4,
      cases.map((c) => () => cli(['verify', ...c.bundles.map((b: Json, k: number) => write(`${c.name}-${k}`, b))])),
    );
    cases.forEach((c, i) => {
      const run = runs[i]!;
      expect(run.code, c.name).toBe(1);
      const [clause, code] = (c.reason as string).split(' ');
      expect(run.stdout).toContain('INVALID');
      expect(run.stdout).toContain(`${code} (${clause})`);
    });
  }, 120_000);

  it('accepts the honest series and a version-1 bundle, saying its deltas are hub-attested', async () => {
    const paths = file.accepted.series.bundles.map((b: Json, k: number) => write(`honest-${k}`, b));
    const series = await cli(['verify', ...paths]);
    expect(series.code, series.stdout).toBe(0);
    expect(series.stdout).toContain('no seq billed twice');
    const v1 = await cli(['verify', write('v1', file.accepted.v1FabricatedPreviousVoucher.bundle)]);
    expect(v1.code).toBe(0);
    expect(v1.stdout).toContain('hub-attested');
    expect(v1.stdout).toContain('warning:');
  }, 120_000);
});
