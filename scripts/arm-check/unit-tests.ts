// The agent's unit and outbox tests under the emulated Node.js. The test files and the agent's
// sources are copied from the repository into a scratch project whose dependencies are installed
// for the target CPU (npm install --cpu/--os/--libc, so vitest's native parts are ARM builds),
// and whose better-sqlite3 is the one installed from the release artifact. Vitest runs with the
// thread pool: its fork pool would exec an ARM node binary from inside the emulator, which needs
// a binfmt_misc registration this check does not assume.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Board } from './board.js';

/**
 * Agent tests that run in one process. Left out: kill.test.ts (it execs the TypeScript CLI as
 * child processes: the stream step SIGKILLs the installed agent instead) and e2e-hub.test.ts (the
 * stream step runs the agent against the real hub, on the host).
 */
export const EMULATED_TESTS = [
  'test/agent/backoff.test.ts',
  'test/agent/chain.test.ts',
  'test/agent/codes.test.ts',
  'test/agent/config.test.ts',
  'test/agent/downlink.test.ts',
  'test/agent/meter.test.ts',
  'test/agent/outbox.sqlite.test.ts',
  'test/agent/link.test.ts',
  'test/agent/agent.integration.test.ts',
];

// What those tests and the code under them import, at the repository's installed versions.
const PACKAGES = ['vitest', 'fast-check', 'aedes', 'mqtt', '@noble/ed25519', 'commander'];
const NPM_CPU: Record<string, string> = { x64: 'x64', arm64: 'arm64', armhf: 'arm' };

export interface UnitTestResult {
  readonly files: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly seconds: number;
  readonly failures: string[];
}

export async function runUnitTests(opts: {
  root: string;
  board: Board;
  installedPrefix: string;
  workDir: string;
  log: (s: string) => void;
}): Promise<UnitTestResult> {
  const { root, board, installedPrefix, workDir, log } = opts;
  const pack = join(workDir, 'testpack');
  rmSync(pack, { recursive: true, force: true });
  mkdirSync(join(pack, 'test'), { recursive: true });
  for (const dir of ['agent', 'protocol', 'test/agent']) cpSync(join(root, dir), join(pack, dir), { recursive: true });
  mkdirSync(join(pack, 'docs'));
  cpSync(join(root, 'docs', 'agent.md'), join(pack, 'docs', 'agent.md')); // codes.test.ts checks the doc
  writeFileSync(join(pack, 'package.json'), '{ "private": true, "type": "module" }\n');

  const specs = PACKAGES.map((p) => {
    const { version } = JSON.parse(readFileSync(join(root, 'node_modules', p, 'package.json'), 'utf8')) as {
      version: string;
    };
    return `${p}@${version}`;
  });
  log(`   npm install --cpu=${NPM_CPU[board.arch]} ${specs.join(' ')}`);
  execFileSync(
    'npm',
    [
      'install',
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--loglevel=error',
      `--cpu=${NPM_CPU[board.arch]}`,
      '--os=linux',
      '--libc=glibc',
      ...specs,
    ],
    { cwd: pack, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  // better-sqlite3 (with bindings and file-uri-to-path beside it) comes from the installed artifact.
  symlinkSync(join(installedPrefix, 'node_modules', 'better-sqlite3'), join(pack, 'node_modules', 'better-sqlite3'));

  const report = join(pack, 'vitest.json');
  const t0 = Date.now();
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(
      board.node,
      [
        'node_modules/vitest/vitest.mjs',
        'run',
        '--pool=threads',
        '--maxWorkers=2',
        '--testTimeout=180000',
        '--hookTimeout=180000',
        '--reporter=dot',
        '--reporter=json',
        `--outputFile.json=${report}`,
        ...EMULATED_TESTS,
      ],
      {
        cwd: pack,
        stdio: ['ignore', 'inherit', 'inherit'],
        // test/agent/helpers' deadlines end hung tests; emulation makes everything 10-20x slower.
        env: { ...process.env, TALLY_TEST_DEADLINE_SCALE: board.emulated ? '10' : '1' },
      },
    );
    child.on('error', reject);
    child.on('exit', (c) => resolve(c ?? 1));
  });
  const seconds = (Date.now() - t0) / 1000;
  if (!existsSync(report)) throw new Error(`vitest under ${board.arch} wrote no report (exit ${code})`);
  const r = JSON.parse(readFileSync(report, 'utf8')) as {
    numTotalTestSuites: number;
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    testResults: { name: string; assertionResults: { status: string; fullName: string }[] }[];
  };
  const failures = r.testResults.flatMap((f) =>
    f.assertionResults
      .filter((a) => a.status === 'failed')
      .map((a) => `${f.name.slice(pack.length + 1)}: ${a.fullName}`),
  );
  return {
    files: r.testResults.length,
    passed: r.numPassedTests,
    failed: r.numFailedTests + (code !== 0 && r.numFailedTests === 0 ? 1 : 0),
    skipped: r.numPendingTests,
    seconds,
    failures,
  };
}
