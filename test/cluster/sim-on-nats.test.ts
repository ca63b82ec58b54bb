// tally-sim against a hub on a real clustered broker (nats-server, 3 nodes): `--broker` takes the
// nodes comma-separated, the fleet starts spread over them, and when one node is SIGKILLed mid-run
// its devices move to another and the run still conserves exactly (signed = accepted = settled).
// Runs when a nats-server binary is found; without one the suite says it did not run; under
// CI=true a missing binary fails.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubHandle } from '../../hub/server.js';
import type { SimReport } from '../../simulator/report.js';
import { findNatsServer, startNatsCluster, type NatsCluster } from '../../support/nats-cluster.js';
import { waitFor } from '../../support/test-hub.js';
import { tempDir, testHub } from '../hub/helpers/hub.js';

const bin = findNatsServer();

if (!bin) {
  describe('tally-sim on a clustered broker (nats-server)', () => {
    if (process.env.CI) {
      it('needs a nats-server binary in CI', () => {
        throw new Error('nats-server not found: install it (Debian: nats-server) or set TALLY_NATS_BIN');
      });
    } else {
      console.warn(
        'test/cluster/sim-on-nats.test.ts NOT RUN: no nats-server binary (install nats-server or set TALLY_NATS_BIN)',
      );
      it.skip('NOT RUN: no nats-server binary found (install nats-server or set TALLY_NATS_BIN)', () => {});
    }
  });
} else {
  describe('tally-sim on a 3-node nats-server cluster', () => {
    let cluster: NatsCluster;
    let hub: HubHandle;
    const tmp = tempDir();

    beforeAll(async () => {
      cluster = await startNatsCluster({ bin, size: 3, mqttExtra: '  ack_wait: "5s"' });
      const [A, B, C] = cluster.urls as [string, string, string];
      // The hub on node B first; node A is the one that dies.
      hub = await testHub(tmp.dir, {
        brokerUrl: `${B},${C},${A}`,
        brokerClientId: 'tally-hub-test-net-sim',
        credentialWindowMs: 600_000,
      });
    });
    afterAll(async () => {
      await hub?.close();
      await cluster?.stop();
      tmp.cleanup();
    });

    it('conserves exactly with the fleet spread over the nodes while one of them dies', async () => {
      const devices = 6;
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'simulator/cli.ts',
          'run',
          ...['--broker', cluster.urls.join(',')],
          ...['--hub-api', hub.httpUrl, '--admin-token', hub.adminToken],
          ...['--devices', String(devices), '--rate', '5', '--duration', '15', '--batch-ms', '200'],
          ...['--drain-timeout', '120', '--quiet', '--json', '-'],
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

      // Every device has a channel with units at the hub: then node A goes, with a third of the
      // fleet on it (device i starts at node i mod 3).
      const streaming = () => {
        const list = hub.core.listDevices();
        return (
          list.length === devices &&
          list.every((d) => {
            const ch = hub.core.showDevice(d.publicKey).channelDetails[0];
            return ch !== undefined && BigInt(ch.head.seq) > 0n;
          })
        );
      };
      await waitFor(streaming, 'every device streaming', 60_000);
      await cluster.kill(0);

      const code = await exit;
      await cluster.restart(0);
      expect(code, stderr).toBe(0);
      const report = JSON.parse(stdout) as SimReport;
      expect(report.ok).toBe(true);
      expect(report.hub).toBe('remote');
      expect(report.devices).toBe(devices);
      expect(report.lost).toBe('0');
      expect(report.duplicated).toBe('0');
      expect(report.mismatches).toEqual([]);
      expect(report.units.signed).toBe(report.units.settled);
      expect(BigInt(report.units.signed)).toBeGreaterThan(0n);
      expect(report.settlement.bundlesVerified).toBe(true);
      // The devices of node A connected again, to another node.
      expect(report.agentLog.LINK_UP ?? 0).toBeGreaterThan(devices);
    }, 240_000);
  });
}
