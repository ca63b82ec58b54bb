// Bundles the CLIs and the operator dashboard with esbuild. tally-agent.js is a single file that
// runs with plain `node` on a device: only native addons stay external: better-sqlite3, and
// serialport, which modbus-serial loads only for a Modbus RTU meter (docs/agent.md, "Modbus RTU").
// tally-verify.js keeps nothing external: it runs on a bare Node with nothing installed.
// `node scripts/build.mjs --only tally-verify --outdir DIR` builds just the named bundles into DIR
// (the tests build what they run from source, never a stale dist/). package.json's version is
// inlined into each bundle (common/version.ts) for --version.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { only: { type: 'string' }, outdir: { type: 'string' } } });
const only = args.only?.split(',');
const outdir = args.outdir ?? 'dist';

const entries = [
  { name: 'tally-agent', src: 'agent/cli.ts' },
  { name: 'tally-hub', src: 'hub/cli.ts' },
  { name: 'tally-sim', src: 'simulator/cli.ts' },
  // The simulator's worker-thread shard, loaded by dist/tally-sim.js from beside it.
  { name: 'tally-sim-shard', src: 'simulator/shard-worker.ts' },
  // Anchoring on an EVM chain (viem), loaded by dist/tally-hub.js from beside it only when it anchors.
  { name: 'tally-anchor', src: 'hub/anchor/client.ts' },
  { name: 'tally-verify', src: 'verifier/cli.ts', external: [] },
];

for (const { name, src, external = ['better-sqlite3', 'serialport', '@serialport/*'] } of entries) {
  if (!existsSync(src) || (only && !only.includes(name))) continue;
  await build({
    entryPoints: [src],
    outfile: `${outdir}/${name}.js`,
    bundle: true,
    platform: 'node',
    // Devices may still run Node 20 (docs/agent.md); the current LTS lines are tested too.
    target: 'node20.19',
    format: 'esm',
    // Bundled CommonJS dependencies (mqtt's deps) call require(); give ESM output one.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __tallyCreateRequire } from 'node:module';\nconst require = __tallyCreateRequire(import.meta.url);",
    },
    external,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  });
}

// The anchoring contract: compiled with solc into dist/contracts/ (for source verification on a block
// explorer) and checked against the committed hub/anchor/contract.ts, which is what the hub runs.
if (!only || only.includes('contract')) {
  const { buildContract } = await import('./compile-contract.mjs');
  if ((await buildContract()).stale) {
    console.warn('warning: hub/anchor/contract.ts is stale against contracts/TallyAnchor.sol; run `npm run contract`');
  }
}

// protocol/ as a library (the package export `tally/protocol`): plain JavaScript and declarations
// from tsc, one file per module, @noble/ed25519 left to the package's dependencies.
if ((!only || only.includes('protocol')) && existsSync('tsconfig.protocol.json')) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.protocol.json', '--outDir', `${outdir}/protocol`], {
    stdio: 'inherit',
  });
}

// The operator dashboard, served by the hub from dist/dashboard/ (hub/http/static.ts).
if (!only || only.includes('dashboard')) {
  const { buildDashboard } = await import('../hub/dashboard/build.mjs');
  await buildDashboard(`${outdir}/dashboard`);
}
