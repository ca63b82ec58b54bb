// Usage errors exit 2 on every command (0 success, 1 the command ran and failed, 2 it was not
// run as written), with a message on stderr; --help exits 0.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const COMMANDS = {
  'tally-hub': 'hub/cli.ts',
  'tally-agent': 'agent/cli.ts',
  'tally-sim': 'simulator/cli.ts',
  'tally-verify': 'verifier/cli.ts',
} as const;

function run(command: keyof typeof COMMANDS, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', COMMANDS[command], ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('usage errors exit 2', () => {
  it.each([
    ['tally-hub', ['stats', '--no-such-option']],
    ['tally-hub', ['no-such-command']],
    ['tally-hub', ['verify']],
    ['tally-hub', ['device', 'add', '--unit', 'Wh']],
    ['tally-agent', ['run', '--no-such-option']],
    ['tally-agent', ['no-such-command']],
    ['tally-sim', ['run', '--no-such-option']],
    ['tally-sim', ['run', '--devices']],
    ['tally-verify', []],
    ['tally-verify', ['bundle.json', '--no-such-option']],
  ] as const)('%s %j', (command, args) => {
    const r = run(command, [...args]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error: /);
    expect(r.stdout).toBe('');
  });

  it.each(Object.keys(COMMANDS) as (keyof typeof COMMANDS)[])('%s --help exits 0', (command) => {
    const r = run(command, ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: /);
  });
});
