// Builds the dashboard into <outDir>: index.html, assets/dashboard.js and assets/dashboard.css
// (with source maps). Used by scripts/build.mjs (npm install, npm run build) and by the dashboard
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
    copyFileSync(here('./index.html'), join(tmp, 'index.html'));
    for (const f of readdirSync(join(tmp, 'assets'))) renameSync(join(tmp, 'assets', f), join(outDir, 'assets', f));
    renameSync(join(tmp, 'index.html'), join(outDir, 'index.html'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
