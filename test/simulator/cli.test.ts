// tally-sim's usage errors: exit status 2 and a message that says what to fix.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function sim(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'simulator/cli.ts', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('tally-sim usage', () => {
  it.each([
    [['run', '--fault', 'flood=1'], /unknown fault 'flood'/],
    [['run', '--fault', 'tamper=2'], /from 0 to 1/],
    [['run', '--devices', '0'], /whole number/],
    [['run', '--broker', 'mqtt://127.0.0.1:1'], /all three of --broker, --hub-api and --admin-token/],
    [
      [
        'run',
        '--broker',
        'mqtt://127.0.0.1:1',
        '--hub-api',
        'http://127.0.0.1:1',
        '--admin-token',
        'x',
        '--fault',
        'broker-restart=5',
      ],
      /cannot restart the broker of a running hub/,
    ],
  ])('%j exits 2', (args, message) => {
    const r = sim(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('explains itself in --help', () => {
    const r = sim('run', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--fault <kind=value>/);
    expect(r.stdout).toMatch(/Exit status/);
  });
});
