// `tally-hub start` as a real process with stderr a pipe: JSON lines by default, each with a code;
// SIGTERM's lines are written out before the exit (the hub's writes are asynchronous); a bad
// --log-level is a usage error. And a crash: the fatal line reaches stderr before the process dies.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/test-hub.js';
import { tempDir } from './helpers/hub.js';

const TSX = ['--import', 'tsx'];

function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...TSX, 'hub/cli.ts', ...args], (err, _stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

const parse = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { code: string; level: string; name: string; msg: string; err?: { stack?: string } });

describe('tally-hub logs', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('writes JSON lines when stderr is not a terminal, and flushes the stop lines on SIGTERM', async () => {
    const proc = spawn(
      process.execPath,
      [...TSX, 'hub/cli.ts', 'start', '--data', join(tmp.dir, 'hub'), '--mqtt-listen', ':0', '--http', ':0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdout.resume();
    try {
      await waitFor(() => stderr.includes('HUB_LISTENING'), 'the hub listening', 30_000);
    } finally {
      proc.kill('SIGTERM');
    }
    const [code] = (await once(proc, 'exit')) as [number | null];
    expect(code).toBe(0);
    const all = parse(stderr);
    // The descriptor limits come first (info, or warn where the soft limit could not be raised).
    expect(['HUB_DESCRIPTORS', 'HUB_DESCRIPTORS_LOW']).toContain(all[0]?.code);
    const lines = all.slice(1);
    expect(lines.map((l) => l.code)).toEqual(['HUB_STARTED', 'HUB_LISTENING', 'HUB_STOPPING', 'HUB_STOPPED']);
    for (const l of lines) expect(l).toMatchObject({ level: 'info', name: 'tally-hub', msg: expect.any(String) });
  });

  it('refuses an unknown --log-level with exit code 2', async () => {
    const r = await cli(['start', '--data', join(tmp.dir, 'never'), '--log-level', 'loud']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--log-level');
  });

  it('logs a failed start (a port in use) at fatal, then exits 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const r = await cli([
        'start',
        '--data',
        join(tmp.dir, 'busy'),
        '--mqtt-listen',
        ':0',
        '--http',
        `127.0.0.1:${port}`,
      ]);
      expect(r.code).toBe(1);
      const lines = parse(
        r.stderr
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .join('\n'),
      );
      expect(lines.map((l) => [l.code, l.level])).toContainEqual(['HUB_START_FAILED', 'fatal']);
    } finally {
      taken.close();
    }
  });

  it('logs an uncaught error at fatal, with its code and stack, before the exit', async () => {
    // An asynchronous destination like the hub's: the fatal line must not stay in its buffer.
    const script = `
      import { createLogger, exitOnFatal } from './common/log.ts';
      const logger = createLogger({ name: 'tally-hub', level: 'info', format: 'json', sync: false });
      exitOnFatal(logger, 'HUB_FATAL');
      logger.info({ code: 'HUB_STARTED' }, 'hub started');
      setTimeout(() => { throw new Error('boom'); }, 10);
    `;
    const proc = spawn(process.execPath, [...TSX, '--input-type=module', '-e', script], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(proc, 'exit')) as [number | null];
    expect(code).toBe(1);
    const lines = parse(stderr);
    expect(lines.map((l) => [l.code, l.level])).toEqual([
      ['HUB_STARTED', 'info'],
      ['HUB_FATAL', 'fatal'],
    ]);
    expect(lines[1]!.err?.stack).toContain('boom');
  });
});
