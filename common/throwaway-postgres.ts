// A throwaway PostgreSQL server for tests and benchmarks: initdb in a temp dir, one `postgres`
// process on a free port of 127.0.0.1 (and a unix socket in the same dir), trust authentication,
// removed by stop(). PostgreSQL refuses to run as root, so when this process is root the server
// runs as the `postgres` OS user and owns the temp dir. Binaries come from TALLY_PG_BIN or the
// usual places (Debian's /usr/lib/postgresql/<version>/bin, then the PATH).
//
// Tuning: `durable: false` (the default, for tests) turns fsync, synchronous_commit and
// full_page_writes off: a test server is thrown away, and the tests assert on what the database
// holds, not on what survives a power cut. Benchmarks pass `durable: true` so their figures are
// those of a server configured as docs/scale-out.md says.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface RunningPostgres {
  /** Connection URL of database `db` (default `postgres`). */
  url(db?: string): string;
  /** Creates an empty database (a fresh one per test file is cheap) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
  readonly port: number;
  readonly dir: string;
}

export interface StartPostgresOptions {
  binDir?: string;
  /** fsync/synchronous_commit/full_page_writes on (benchmarks); off by default (tests). */
  durable?: boolean;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>;
}

/** The directory holding initdb and postgres, or undefined when PostgreSQL is not installed. */
export function findPostgres(): string | undefined {
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'));
  const env = process.env.TALLY_PG_BIN;
  if (env) return has(env) ? env : undefined;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (has(join(root, v, 'bin'))) return join(root, v, 'bin');
  }
  try {
    const initdb = execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim();
    if (initdb) {
      const dir = initdb.slice(0, initdb.lastIndexOf('/'));
      if (has(dir)) return dir;
    }
  } catch {
    // not on the PATH
  }
  return undefined;
}

/** uid/gid of the `postgres` OS user when we are root (PostgreSQL refuses root). */
function serverUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root and there is no `postgres` OS user to run the server as');
  }
}

const running = new Set<ChildProcess>();
let exitHook = false;

export async function startPostgres(options: StartPostgresOptions = {}): Promise<RunningPostgres> {
  const bin = options.binDir ?? findPostgres();
  if (!bin) throw new Error('PostgreSQL not found: install postgresql or set TALLY_PG_BIN');
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'tally-pg-'));
  const data = join(dir, 'data');
  if (user) chownSync(dir, user.uid, user.gid);
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
    { ...as, stdio: 'pipe', cwd: dir },
  );

  const durable = options.durable ?? false;
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    max_connections: '200',
    shared_buffers: '128MB',
    fsync: durable ? 'on' : 'off',
    synchronous_commit: durable ? 'on' : 'off',
    full_page_writes: durable ? 'on' : 'off',
    log_min_messages: 'warning',
    ...options.settings,
  };

  // The port is free when we ask; another process may take it before the server binds, so retry.
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const args = ['-D', data, '-p', String(port)];
    for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
    const proc = spawn(join(bin, 'postgres'), args, { ...as, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    const ready = await waitReady(proc);
    if (ready !== true) {
      proc.kill('SIGKILL');
      if (attempt < 3 && /could not bind|address already in use/i.test(ready)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`PostgreSQL did not start: ${ready}`);
    }
    running.add(proc);
    if (!exitHook) {
      exitHook = true;
      // A test run that dies must not leave servers behind: immediate shutdown on exit.
      process.once('exit', () => {
        for (const p of running) p.kill('SIGQUIT');
      });
    }
    const url = (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`;
    let counter = 0;
    return {
      port,
      dir,
      url,
      async createDatabase(name) {
        const db = name ?? `t${process.pid}_${++counter}_${Date.now().toString(36)}`;
        const client = new pg.Client({ connectionString: url() });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE "${db}"`);
        } finally {
          await client.end();
        }
        return url(db);
      },
      async stop() {
        running.delete(proc);
        if (proc.exitCode === null && proc.signalCode === null) {
          const exited = new Promise((resolve) => proc.once('exit', resolve));
          proc.kill('SIGINT'); // fast shutdown: disconnects clients, no checkpoint wait on a test server
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/** Resolves true once the server accepts connections, or with its error output if it exits. */
function waitReady(proc: ChildProcess): Promise<true | string> {
  return new Promise((resolve) => {
    let output = '';
    const done = (v: true | string) => {
      proc.stderr!.off('data', onData);
      proc.off('exit', onExit);
      // Keep draining stderr so a chatty server never blocks on a full pipe.
      proc.stderr!.resume();
      resolve(v);
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready to accept connections')) done(true);
    };
    const onExit = () => done(output.trim() || `exited with ${proc.exitCode ?? proc.signalCode}`);
    proc.stderr!.on('data', onData);
    proc.once('exit', onExit);
  });
}
