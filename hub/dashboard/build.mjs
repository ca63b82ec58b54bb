// Builds the dashboard into <outDir>: index.html, assets/dashboard.js, assets/dashboard.css and
// assets/verify-worker.js (with source maps). Used by scripts/build.mjs (npm install, npm run build) and by the dashboard
// tests, which build from source first so they never test stale assets.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/** @param {string} outDir */
export async function buildDashboard(outDir) {
  mkdirSync(join(outDir, 'assets'), { recursive: true });
  // Written beside the target, then renamed file by file: a hub serving outDir meanwhile (another
  // test file, a running hub) never reads a half-written asset.
  const tmp = mkdtempSync(join(dirname(outDir), '.dashboard-build-'));
  try {
    await build({
      entryPoints: [here('./main.ts')],
      outfile: join(tmp, 'assets', 'dashboard.js'),
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: ['chrome110', 'firefox115', 'safari16'],
      minify: true,
      sourcemap: 'linked',
      legalComments: 'none',
      logLevel: 'warning',
    });
    // The bundle verifier of the Verify page: protocol/ itself, in a worker. protocol/ is written
    // for Node; two stand-ins make it run here: node:crypto (hashes from @noble/hashes) and Buffer.
    await build({
      entryPoints: [here('./verify/worker.ts')],
      outfile: join(tmp, 'assets', 'verify-worker.js'),
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: ['chrome110', 'firefox115', 'safari16'],
      alias: { 'node:crypto': here('./verify/node-crypto.ts') },
      inject: [here('./verify/buffer-global.ts')],
      minify: true,
      sourcemap: 'linked',
      legalComments: 'none',
      logLevel: 'warning',
    });
    copyFileSync(here('./index.html'), join(tmp, 'index.html'));
    for (const f of readdirSync(join(tmp, 'assets'))) renameSync(join(tmp, 'assets', f), join(outDir, 'assets', f));
    renameSync(join(tmp, 'index.html'), join(outDir, 'index.html'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
