// A process whose worker threads cannot run (here a preload that throws on every worker thread, as
// a misbehaving monitoring agent loaded with NODE_OPTIONS=--require might) still bills exactly: the
// hub's signature workers end, the checks they held are sent again, and once no worker can be kept
// running the main thread checks every signature. Before, a batch given to a dead worker was never
// answered, and every later segment of its channels waited behind it for ever.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'tally-verify-workers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('signature workers that cannot run', () => {
  it('a simulated fleet conserves exactly when every worker thread of the hub process throws at start', () => {
    const marks = join(dir, 'refused');
    const preload = join(dir, 'refuse-workers.cjs');
    writeFileSync(
      preload,
      // Module-loader hook threads (tsx's) have no parentPort: only threads the program starts do.
      `const { isMainThread, parentPort } = require('node:worker_threads');
if (!isMainThread && parentPort) {
  require('node:fs').appendFileSync(${JSON.stringify(marks)}, 'x');
  throw new Error('this preload refuses worker threads');
}
`,
    );
    const r = spawnSync(
      process.execPath,
      [
        '--require',
        preload,
        '--import',
        'tsx',
        'simulator/cli.ts',
        'run',
        '--devices',
        '300',
        '--rate',
        '2',
        '--duration',
        '6',
        '--batch-ms',
        '500',
        '--json',
        '-',
        '--quiet',
      ],
      { encoding: 'utf8', timeout: 150_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; lost: string; duplicated: string; units: { signed: string } };
    expect(report.ok).toBe(true);
    expect(report.lost).toBe('0');
    expect(report.duplicated).toBe('0');
    expect(BigInt(report.units.signed)).toBeGreaterThan(0n);
    // The preload did refuse the hub's workers: each slot was started 1 + MAX_FAILED_STARTS times
    // (the fleet's own processes are not worker threads).
    expect(readFileSync(marks, 'utf8').length).toBeGreaterThanOrEqual(4);
  }, 180_000);
});
