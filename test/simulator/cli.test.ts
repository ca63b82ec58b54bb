// tally-sim's usage errors (exit status 2 and a message that says what to fix), its report on
// stdout with `--json -`, and its live progress line on a real terminal (a pty from script(1)).
import { spawnSync } from 'node:child_process';
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';

/** Runs tally-sim on a pseudo-terminal `columns` wide (script(1), util-linux, essential on
 *  Debian); returns what the terminal showed. */
function simOnTerminal(columns: number, ...args: string[]): string {
  const command = [`stty cols ${columns}`, `exec node --import tsx simulator/cli.ts ${args.join(' ')}`].join('; ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  return r.stdout;
}

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
      ['run', '--broker', 'mqtt://127.0.0.1:1,127.0.0.1:2', '--hub-api', 'http://127.0.0.1:1', '--admin-token', 'x'],
      /not a broker URL: "127\.0\.0\.1:2"/,
    ],
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
    [['run', '--broker-engine', 'mosquitto'], /need --hubs/],
    [['run', '--hubs', '3', '--broker-engine', 'kafka'], /--broker-engine takes aedes, nats, mosquitto; not "kafka"/],
    [['run', '--hubs', '3', '--broker-engine', 'aedes', '--broker-nodes', '3'], /aedes is one node/],
    [['run', '--hubs', '3', '--broker-nodes', '2'], /3, 5 or 7 for nats/],
    [['run', '--hubs', '3', '--broker-engine', 'mosquitto', '--broker-nodes', '8'], /2 to 7 nodes/],
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

describe('tally-sim output', () => {
  it('writes the JSON report to stdout with --json -, and the readable one to stderr', () => {
    const r = sim('run', '--devices', '2', '--duration', '1', '--quiet', '--json', '-');
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; devices: number; units: { signed: string } };
    expect(report.ok).toBe(true);
    expect(report.devices).toBe(2);
    expect(r.stderr).toContain('Tally fleet simulation');
    // --quiet: the final report only, no log lines.
    expect(r.stderr).not.toContain('tally-sim: enrolling');
  });

  it('runs the fleet processes at the niceness asked, as they see it themselves', () => {
    const r = sim(
      'run',
      '--devices',
      '2',
      '--duration',
      '1',
      '--workers',
      '1',
      '--fleet-nice',
      '7',
      '--quiet',
      '--json',
      '-',
    );
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; process: { fleetProcesses: number; fleetNice: number } };
    expect(report.ok).toBe(true);
    expect(report.process.fleetProcesses).toBe(1);
    // Niceness only goes up: under a test runner already at 7 or more the fleet keeps the runner's.
    expect(report.process.fleetNice).toBe(Math.max(7, getPriority()));
    expect(r.stderr).toContain(`fleet processes (nice ${report.process.fleetNice})`);
  });

  it('refuses --json - together with --html -', () => {
    const r = sim('run', '--json', '-', '--html', '-');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot both use stdout/);
  });

  it('fits its progress line to the terminal and keeps it off with --quiet', () => {
    const shown = simOnTerminal(50, 'run', '--devices', '2', '--duration', '2');
    const lines = shown.split(/[\r\n]+/).filter((l) => / v\/s| online /.test(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line.trimEnd().length).toBeLessThan(50);
      // A field is shown whole or not at all: never "online 2/" for "online 2/2".
      expect(line).toMatch(/online 2\/2\s*$/);
    }
    const quiet = simOnTerminal(50, 'run', '--devices', '2', '--duration', '2', '--quiet');
    expect(quiet).toContain('Tally fleet simulation');
    expect(quiet).not.toMatch(/ v\/s |online 2\/2/);
  });
});
