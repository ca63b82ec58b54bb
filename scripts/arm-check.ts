// npm run check:arm: the agent on linux/arm64 and linux/armhf under qemu user emulation, installed
// from the release artifact (npm run release:agent), not from this repository. For each
// architecture: install with the artifact's install.sh, run the agent's unit and outbox tests
// under the emulated Node.js, then stream to a hub on this machine with a SIGKILL and a restart in
// the middle and check conservation exactly. Prints the time taken and the agent's RSS.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ARCH_NAMES, type ArchName } from './release/targets.mjs';
import { otherNodes, prepareBoard, type Board } from './arm-check/board.js';
import { streamWithKill, type StreamResult } from './arm-check/stream.js';
import { runUnitTests, type UnitTestResult } from './arm-check/unit-tests.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

const HELP = `Usage: npm run check:arm -- [--arch LIST] [--no-tests] [--keep] [--json FILE]

Builds the agent's release artifacts (npm run release:agent), installs each into a scratch folder
with its own install.sh, and on each architecture's Node.js (arm64 and armhf under qemu-user):
runs the agent's unit and outbox tests, then streams to a hub on this machine, SIGKILLs the agent
mid-stream, restarts it, and checks that the hub holds exactly the units metered.

  --arch LIST   comma-separated, from ${ARCH_NAMES.join(', ')} (default: arm64,armhf)
  --no-tests    skip the unit tests (the stream still runs)
  --keep        keep the scratch folder and print its path
  --json FILE   also write the results as JSON
  --cache DIR   Node.js builds, Debian trees and compiled bindings (default: .tmp/release-cache)

Needs: qemu-user-static, the compilers of npm run release:agent, and the npm registry and
Debian's archive (for the ARM Node.js and libraries, cached after the first run).
Exit status: 0 all passed, 1 a check failed, 2 bad usage.`;

interface ArchResult {
  arch: ArchName;
  board?: Board;
  install?: { publicKey: string; abi: number; seconds: number };
  /** Install and `init` (which opens the outbox through the binding) under other Node majors. */
  otherNodes?: { major: number; version: string; ok: boolean }[];
  tests?: UnitTestResult;
  stream?: StreamResult;
  error?: string;
  seconds: number;
}

function usageError(msg: string): never {
  console.error(`check:arm: ${msg}\n\n${HELP}`);
  process.exit(2);
}

async function main() {
  let args;
  try {
    args = parseArgs({
      options: {
        arch: { type: 'string', default: 'arm64,armhf' },
        'no-tests': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        json: { type: 'string' },
        cache: { type: 'string', default: '.tmp/release-cache' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    usageError((err as Error).message);
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const arches = args.arch.split(',').filter(Boolean) as ArchName[];
  for (const a of arches) if (!ARCH_NAMES.includes(a)) usageError(`unknown architecture "${a}"`);
  const cache = resolve(ROOT, args.cache);
  const log = (s: string) => console.log(s);
  const started = Date.now();

  log(`== release artifacts (npm run release:agent -- --arch ${arches.join(',')})`);
  const release = spawnSync(
    process.execPath,
    [join(ROOT, 'scripts', 'release-agent.mjs'), '--arch', arches.join(','), '--cache', cache, '--json'],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (release.status !== 0) {
    console.error('check:arm: the release build failed');
    return 1;
  }
  const artifacts = (JSON.parse(release.stdout) as { artifacts: { arch: ArchName; file: string }[] }).artifacts;
  const buildSeconds = (Date.now() - started) / 1000;

  const scratch = mkdtempSync(join(tmpdir(), 'tally-arm-check-'));
  const results: ArchResult[] = [];
  try {
    for (const arch of arches) {
      const t0 = Date.now();
      const r: ArchResult = { arch, seconds: 0 };
      results.push(r);
      const work = join(scratch, arch);
      mkdirSync(work, { recursive: true });
      try {
        log(`== ${arch}: board`);
        r.board = prepareBoard(arch, cache, work);
        log(`   ${r.board.description} (ABI ${r.board.abi})`);

        log(`== ${arch}: install from ${artifacts.find((a) => a.arch === arch)!.file}`);
        const ti = Date.now();
        execFileSync('tar', ['-xzf', artifacts.find((a) => a.arch === arch)!.file, '-C', work]);
        const unpacked = join(
          work,
          `${artifacts
            .find((a) => a.arch === arch)!
            .file.split('/')
            .pop()!
            .replace(/\.tar\.gz$/, '')}`,
        );
        const prefix = join(work, 'opt', 'tally-agent');
        const data = join(work, 'data');
        const out = execFileSync(
          'sh',
          [
            join(unpacked, 'install.sh'),
            '--no-service',
            '--no-apt',
            '--node',
            r.board.node,
            '--prefix',
            prefix,
            '--data',
            data,
            '--json',
          ],
          { encoding: 'utf8' },
        );
        const installed = JSON.parse(out) as { publicKey: string; abi: number };
        r.install = { publicKey: installed.publicKey, abi: installed.abi, seconds: (Date.now() - ti) / 1000 };
        log(`   installed in ${r.install.seconds.toFixed(1)} s; device ${installed.publicKey.slice(0, 16)}...`);

        r.otherNodes = [];
        for (const other of otherNodes(r.board, cache, work)) {
          const run = spawnSync(
            'sh',
            [
              join(unpacked, 'install.sh'),
              '--no-service',
              '--no-apt',
              '--node',
              other.node,
              '--prefix',
              join(work, `opt-${other.major}`),
              '--data',
              join(work, `data-${other.major}`),
              '--json',
            ],
            { encoding: 'utf8' },
          );
          const ok = run.status === 0;
          const version = ok ? (JSON.parse(run.stdout) as { nodeVersion: string }).nodeVersion : '?';
          r.otherNodes.push({ major: other.major, version, ok });
          log(
            `   also installs and opens its outbox on Node.js ${version} (${other.major}): ${ok ? 'ok' : `FAILED\n${run.stderr}`}`,
          );
        }
        // The release folder is not needed after the install: prove nothing runs from it.
        rmSync(unpacked, { recursive: true, force: true });

        if (!args['no-tests']) {
          log(`== ${arch}: unit and outbox tests under ${r.board.emulated ? 'emulation' : 'this machine'}`);
          r.tests = await runUnitTests({ root: ROOT, board: r.board, installedPrefix: prefix, workDir: work, log });
          log(
            `   ${r.tests.passed} passed, ${r.tests.failed} failed in ${r.tests.files} files (${r.tests.seconds.toFixed(0)} s)`,
          );
          for (const f of r.tests.failures) log(`   FAILED ${f}`);
        }

        log(`== ${arch}: stream to the hub with a SIGKILL and a restart`);
        r.stream = await streamWithKill({
          agent: join(prefix, 'bin', 'tally-agent'),
          data,
          publicKey: installed.publicKey,
          workDir: work,
          log,
        });
        const s = r.stream;
        log(
          `   metered ${s.metered}, hub ${s.hubUnits} units / seq ${s.hubSeq} / amount ${s.hubAmount}, agent ${s.agentUnits}, ` +
            `equivocations ${s.equivocations}: ${s.conserved ? 'conserved' : 'NOT CONSERVED'}`,
        );
        log(
          `   RSS peak ${s.rss.peakMiB} MiB, median ${s.rss.medianMiB} MiB (${s.rss.samples} samples); ${s.seconds.toFixed(0)} s`,
        );
      } catch (err) {
        r.error = (err as Error).stack ?? String(err);
        log(`   ERROR ${r.error}`);
      }
      r.seconds = (Date.now() - t0) / 1000;
    }
  } finally {
    if (args.keep) log(`scratch kept: ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
  }

  const totalSeconds = (Date.now() - started) / 1000;
  const ok = results.every(
    (r) => !r.error && r.stream?.conserved && (args['no-tests'] || (r.tests && r.tests.failed === 0)),
  );
  log('');
  log('ARM check');
  log(`  release build   ${buildSeconds.toFixed(0)} s`);
  for (const r of results) {
    const t = r.tests
      ? `${r.tests.passed} passed, ${r.tests.failed} failed (${r.tests.seconds.toFixed(0)} s)`
      : 'not run';
    const s = r.stream;
    log(`  ${r.arch.padEnd(6)}  ${r.board?.description ?? '-'}`);
    for (const o of r.otherNodes ?? []) log(`          install on Node.js ${o.version}: ${o.ok ? 'ok' : 'FAILED'}`);
    log(`          tests ${t}`);
    log(
      s
        ? `          stream ${s.conserved ? 'conserved' : 'NOT CONSERVED'}: metered ${s.metered} = hub ${s.hubUnits} (seq ${s.hubSeq}, amount ${s.hubAmount}), killed at ${s.killedAtMetered} metered / ${s.killedAtHubUnits} at the hub; RSS peak ${s.rss.peakMiB} MiB, median ${s.rss.medianMiB} MiB`
        : `          stream not run${r.error ? `: ${r.error.split('\n')[0]}` : ''}`,
    );
    log(`          ${r.seconds.toFixed(0)} s`);
  }
  log(`  total           ${totalSeconds.toFixed(0)} s: ${ok ? 'PASSED' : 'FAILED'}`);
  if (args.json) {
    writeFileSync(
      args.json,
      `${JSON.stringify({ ok, buildSeconds, totalSeconds, results }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
    );
  }
  return ok ? 0 : 1;
}

process.exitCode = await main();
