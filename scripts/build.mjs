// Bundles the three CLIs and the operator dashboard with esbuild. tally-agent.js is a single file
// that runs with plain `node` on a device: only native addons stay external: better-sqlite3, and
// serialport, which modbus-serial loads only for a Modbus RTU meter (docs/agent.md, "Modbus RTU").
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const entries = [
  { name: 'tally-agent', src: 'agent/cli.ts' },
  { name: 'tally-hub', src: 'hub/cli.ts' },
  { name: 'tally-sim', src: 'simulator/cli.ts' },
  // The simulator's worker-thread shard, loaded by dist/tally-sim.js from beside it.
  { name: 'tally-sim-shard', src: 'simulator/shard-worker.ts' },
  // Anchoring on an EVM chain (viem), loaded by dist/tally-hub.js from beside it only when it anchors.
  { name: 'tally-anchor', src: 'hub/anchor/client.ts' },
];

for (const { name, src } of entries) {
  if (!existsSync(src)) continue;
  await build({
    entryPoints: [src],
    outfile: `dist/${name}.js`,
    bundle: true,
    platform: 'node',
    target: 'node20.19',
    format: 'esm',
    // Bundled CommonJS dependencies (mqtt's deps) call require(); give ESM output one.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __tallyCreateRequire } from 'node:module';\nconst require = __tallyCreateRequire(import.meta.url);",
    },
    external: ['better-sqlite3', 'serialport', '@serialport/*'],
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  });
}

// The anchoring contract: compiled with solc into dist/contracts/ (for source verification on a block
// explorer) and checked against the committed hub/anchor/contract.ts, which is what the hub runs.
const { buildContract } = await import('./compile-contract.mjs');
if ((await buildContract()).stale) {
  console.warn('warning: hub/anchor/contract.ts is stale against contracts/TallyAnchor.sol; run `npm run contract`');
}

// The operator dashboard, served by the hub from dist/dashboard/ (hub/http/static.ts).
const { buildDashboard } = await import('../hub/dashboard/build.mjs');
await buildDashboard('dist/dashboard');
