// tally-sim against an embedded cluster (--hubs): PostgreSQL, a broker node and three tally-hub
// processes; one hub SIGKILLed every 15 s and the broker node down every 20 s. The run must
// conserve exactly (signed = accepted = settled, exit 0) and its JSON report must time each
// failover. Runs when PostgreSQL is installed; says NOT RUN otherwise, fails under CI=true.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describePostgres } from '../hub/helpers/postgres.js';

describePostgres('test/simulator/cluster-sim.test.ts', 'tally-sim run --hubs', () => {
  it('conserves through hub kills and broker node outages, and times each failover', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-sim-cluster-'));
    try {
      const json = join(dir, 'report.json');
      const args = [
        '--import',
        'tsx',
        'simulator/cli.ts',
        'run',
        '--hubs',
        '3',
        '--devices',
        '20',
        '--rate',
        '5',
        '--duration',
        '40',
        '--fault',
        'kill-hub=15',
        '--fault',
        'broker-node-down=20',
        '--quiet',
        '--json',
        json,
      ];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, out).toBe(0);
      const report = JSON.parse(readFileSync(json, 'utf8')) as {
        ok: boolean;
        lost: string;
        duplicated: string;
        units: { signed: string; accepted: string; settled: string };
        faults: Record<string, { injected: number }>;
        cluster: { hubs: number; failovers: { hub: string; partitions: number; ms: number }[]; brokerOutages: number };
      };
      expect(report.ok).toBe(true);
      expect([report.lost, report.duplicated]).toEqual(['0', '0']);
      expect(report.units.accepted).toBe(report.units.signed);
      expect(report.units.settled).toBe(report.units.signed);
      expect(report.cluster.hubs).toBe(3);
      expect(report.faults['kill-hub']!.injected).toBeGreaterThanOrEqual(1);
      expect(report.faults['broker-node-down']!.injected).toBeGreaterThanOrEqual(1);
      expect(report.cluster.failovers.length).toBe(report.faults['kill-hub']!.injected);
      for (const f of report.cluster.failovers) {
        expect(f.partitions).toBeGreaterThan(0);
        expect(f.ms).toBeGreaterThan(0);
      }
      expect(out).toMatch(/cluster\s+3 hubs; failovers h\d at \d+ s: \d+ partitions in \d+ ms/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 400_000);
});
