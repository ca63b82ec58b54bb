// A hub out of file descriptors says so. A child hub runs with a low hard limit (prlimit), more TCP
// connections than it can hold are opened to its broker, and the hub must log an error naming the
// limit and count EMFILE in /metrics, and serve again once the connections close.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { raiseNofileLimit, readNofileLimit } from '../../common/nofile.js';

const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;
const LIMIT = 128;

const children: ChildProcess[] = [];
const sockets: Socket[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!hasPrlimit)('file descriptors', () => {
  it('raises a soft limit to the hard limit through prlimit, on a running process', () => {
    const child = spawn('prlimit', ['--nofile=64:256', '--', 'sleep', '60'], { stdio: 'ignore' });
    children.push(child);
    const pid = child.pid!;
    // prlimit execs sleep in the same process once the limit is set.
    const before = spawnSync('sh', ['-c', `sleep 0.3; grep 'open files' /proc/${pid}/limits`], { encoding: 'utf8' });
    expect(before.stdout).toMatch(/64\s+256/);
    const outcome = raiseNofileLimit(pid);
    expect(outcome).toMatchObject({ limit: { soft: 256, hard: 256 }, raisedFrom: 64 });
    expect(readNofileLimit(pid)).toEqual({ soft: 256, hard: 256 });
  });

  it('counts EMFILE in /metrics and logs the limit when connections exceed it', async () => {
    const data = mkdtempSync(join(tmpdir(), 'tally-nofile-'));
    dirs.push(data);
    const hub = spawn(
      'prlimit',
      [
        `--nofile=${LIMIT}:${LIMIT}`,
        '--',
        process.execPath,
        '--import',
        'tsx',
        'hub/cli.ts',
        'start',
        '--data',
        data,
        '--mqtt-listen',
        '127.0.0.1:0',
        '--http',
        '127.0.0.1:0',
        '--verify-workers',
        '0',
        '--max-pending-per-address',
        '1000',
        '--connects-per-second',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(hub);
    let stdout = '';
    let stderr = '';
    hub.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    hub.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const [, mqttPort] = await until(
      'the hub to start',
      () => /mqtt\s+mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(stdout) ?? undefined,
    );
    const [, httpUrl] = await until('the HTTP address', () => /http\s+(http:\/\/\S+)/.exec(stdout) ?? undefined);
    expect(stderr).toContain(`file descriptors: soft limit ${LIMIT}, hard limit ${LIMIT}`);

    // More connections than the hub has descriptors for; they only need to be held open.
    for (let i = 0; i < LIMIT + 32; i++) {
      const s = connect(Number(mqttPort), '127.0.0.1');
      s.on('error', () => undefined);
      sockets.push(s);
    }
    await until('the error line', () => (/out of file descriptors \(EMFILE/.test(stderr) ? true : undefined));
    expect(stderr).toContain(`the limit of ${LIMIT} (soft; hard ${LIMIT})`);

    for (const s of sockets.splice(0)) s.destroy();
    const metrics = await until('/metrics once descriptors are free again', async () => {
      try {
        const res = await fetch(`${httpUrl}/metrics`);
        return res.ok ? await res.text() : undefined;
      } catch {
        return undefined;
      }
    });
    const counted = [...metrics.matchAll(/^tally_descriptor_errors_total\{code="EMFILE",where="\w+"\} (\d+)/gm)];
    expect(counted.reduce((sum, m) => sum + Number(m[1]), 0)).toBeGreaterThan(0);
    await until('the recovery line', () => (/file descriptors available again/.test(stderr) ? true : undefined));
    expect(metrics).toMatch(/^tally_descriptors_exhausted \d/m);
  });
});
