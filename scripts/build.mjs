// Bundles the three CLIs and the operator dashboard with esbuild. tally-agent.js is a single file
// that runs with plain `node` on a device: only better-sqlite3 (a native addon) stays external.
// package.json's version is inlined into each bundle (common/version.ts) for --version.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI_ENTRIES = [
  { name: 'tally-agent', src: 'agent/cli.ts' },
  { name: 'tally-hub', src: 'hub/cli.ts' },
  { name: 'tally-sim', src: 'simulator/cli.ts' },
  // The simulator's worker-thread shard, loaded by dist/tally-sim.js from beside it.
  { name: 'tally-sim-shard', src: 'simulator/shard-worker.ts' },
];

/** Writes dist-style bundles of the CLIs into `outDir` (paths relative to the repository root). */
export async function buildClis(outDir) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  for (const { name, src } of CLI_ENTRIES) {
    if (!existsSync(`${root}${src}`)) continue;
    await build({
      absWorkingDir: root,
      entryPoints: [src],
      outfile: `${outDir}/${name}.js`,
      bundle: true,
      platform: 'node',
      target: 'node20.19',
      format: 'esm',
      // Bundled CommonJS dependencies (mqtt's deps) call require(); give ESM output one.
      banner: {
        js: "#!/usr/bin/env node\nimport { createRequire as __tallyCreateRequire } from 'node:module';\nconst require = __tallyCreateRequire(import.meta.url);",
      },
      external: ['better-sqlite3'],
      sourcemap: 'linked',
      legalComments: 'none',
      logLevel: 'warning',
    });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildClis('dist');
  // The operator dashboard, served by the hub from dist/dashboard/ (hub/http/static.ts).
  const { buildDashboard } = await import('../hub/dashboard/build.mjs');
  await buildDashboard('dist/dashboard');
}
