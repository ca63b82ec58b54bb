// One `tally-hub start` in a child process, for tests, the simulator and benchmarks that must
// SIGKILL a hub: a real process dies with everything in memory, which an in-process hub cannot.
// Runs the TypeScript source through tsx in a checkout (never a stale bundle), the bundled CLI
// (dist/tally-hub.js) in a package without sources.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FILES, initDataDir } from '../hub/store/datadir.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface HubProcess {
  readonly child: ChildProcess;
  readonly httpUrl: string;
  /** Lines the hub wrote to stderr (its log), newest last; bounded. */
  readonly log: string[];
  /** Sends the signal and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  readonly exited: boolean;
}

/** The command that runs `tally-hub`: the source under tsx if present, else the bundle. */
export function hubCommand(): string[] {
  if (existsSync(`${root}hub/cli.ts`)) return ['--import', 'tsx', `${root}hub/cli.ts`];
  return [`${root}dist/tally-hub.js`];
}

export async function startHubProcess(args: string[], options: { timeoutMs?: number } = {}): Promise<HubProcess> {
  const child = spawn(process.execPath, [...hubCommand(), 'start', '--http', '127.0.0.1:0', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    log.push(line);
    if (log.length > 2000) log.splice(0, 1000);
  });
  const httpUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tally-hub did not start in time:\n${log.slice(-20).join('\n')}`));
    }, options.timeoutMs ?? 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^\s+http\s+(\S+)/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      resolve(m[1]!);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`tally-hub exited (${code ?? signal}) before it started:\n${log.slice(-20).join('\n')}`));
    });
  });
  return {
    child,
    httpUrl,
    log,
    get exited() {
      return child.exitCode !== null || child.signalCode !== null;
    },
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

/**
 * `count` data dirs holding one hub key, admin token and network, as the hubs of a cluster must
 * (they sign the same channels and receipts). The caller removes `root`.
 */
export function sharedDataDirs(count: number, network = 'test-net'): { root: string; dirs: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'tally-cluster-'));
  const first = join(root, 'hub-0');
  initDataDir(first, { network });
  const dirs = [first];
  for (let i = 1; i < count; i++) {
    const dir = join(root, `hub-${i}`);
    mkdirSync(dir, { mode: 0o700 });
    for (const f of [FILES.key, FILES.adminToken, FILES.brokerSecret]) copyFileSync(join(first, f), join(dir, f));
    initDataDir(dir, { network });
    dirs.push(dir);
  }
  return { root, dirs };
}
