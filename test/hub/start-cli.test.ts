// `tally-hub start` as a daemon is run: settings from a config file and TALLY_HUB_* variables,
// flags over both, a secret from a file, every problem listed at once with exit 2, and SIGTERM
// for a clean stop. The commands are the ones docs/operations.md shows.
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { START_OPTIONS } from '../../hub/cli/start-config.js';
import { tempDir } from './helpers/hub.js';

const HUB = ['--import', 'tsx', 'hub/cli.ts'];

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...HUB, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('tally-hub start with a config file and the environment', () => {
  const tmp = tempDir('tally-start-');
  afterAll(() => tmp.cleanup());

  it('has a flag for every settings key, and a key for every flag', async () => {
    const help = (await cli(['start', '--help'])).stdout;
    const list = help.slice(help.indexOf('Options:'), help.indexOf('\n\n', help.indexOf('Options:')));
    const flags = [...list.matchAll(/^ {2}(?:-\w, )?--([a-z-]+)/gm)].map((m) =>
      m[1]!.replace(/-([a-z])/g, (_s, c: string) => c.toUpperCase()),
    );
    const options = new Set(flags.filter((f) => f !== 'help' && f !== 'config'));
    for (const f of options) expect(Object.keys(START_OPTIONS), `--${f}`).toContain(f);
    for (const key of Object.keys(START_OPTIONS)) expect([...options], key).toContain(key);
  });

  it('lists the problems of the file, the environment and the flags together, exit 2', async () => {
    const config = join(tmp.dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ http: '127.0.0.1:0', verifyWorkers: -1, colour: 'blue' }));
    const r = await cli(
      ['start', '--config', config, '--connects-per-second', 'lots', '--data', join(tmp.dir, 'never')],
      {
        TALLY_HUB_MQTT_LISTEN: 'nowhere',
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown option "colour"');
    expect(r.stderr).toContain('--connects-per-second must be a whole number');
    expect(r.stderr).toContain('not HOST:PORT: nowhere');
    expect(r.stderr).toContain('verifyWorkers must be an integer >= 0');
  });

  it('starts from the file, the environment overriding it, and stops cleanly on SIGTERM', async () => {
    const config = join(tmp.dir, 'hub.json');
    const data = join(tmp.dir, 'data');
    // Port 1 would need root: the variable's port 0 must win over it.
    writeFileSync(
      config,
      JSON.stringify({ data, mqttListen: '127.0.0.1:0', http: '127.0.0.1:1', network: 'from-file', quiet: true }),
    );
    const child = spawn(process.execPath, [...HUB, 'start', '--config', config], {
      env: { ...process.env, TALLY_HUB_HTTP: '127.0.0.1:0' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => stdout.includes('dashboard') && resolve());
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    expect(stdout).toMatch(/network +from-file/);
    expect(stdout).toMatch(/http +http:\/\/127\.0\.0\.1:(\d+)/);
    expect(stdout).not.toMatch(/127\.0\.0\.1:1\n/);
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    // quiet from the file: no info lines.
    expect(stderr).not.toMatch(/ info /);
  }, 60_000);
});
