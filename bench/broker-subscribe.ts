// bench/broker-subscribe: what a hub's uplink subscriptions cost on a clustered broker [P-6.7].
// Starts nats-server as three nodes (support/nats-cluster.ts) and, for each way a hub can cover
// half of the 256 partitions, times a fresh MQTT client (persistent session, QoS 1, as the hub's
// broker link) from CONNECT to the last SUBACK, then the first uplink delivered after it:
//
//   each-128   128 filters tally/v1/p/{p}/d/+/up/#, one per owned partition
//   each-32    32 of them (a hub of eight sharing the fleet)
//   wildcard   1 filter tally/v1/p/+/d/+/up/#, the hub drops what it does not own
//
// Also the same with a clean session, for comparison. Each case runs on a fresh cluster, so no
// JetStream state of an earlier case is in the way.
//
//   npx tsx bench/broker-subscribe.ts
//   TALLY_NATS_BIN=/path/to/nats-server npx tsx bench/broker-subscribe.ts
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { HUB_UPLINK_FILTER, partitionUplinkFilter } from '../protocol/index.js';
import { findNatsServer, startNatsCluster } from '../support/nats-cluster.js';

const bin = findNatsServer();
if (!bin) {
  console.error('bench/broker-subscribe needs nats-server (Debian: nats-server, or TALLY_NATS_BIN)');
  process.exit(2);
}

const cases: { name: string; filters: string[] }[] = [
  { name: 'wildcard', filters: [HUB_UPLINK_FILTER] },
  { name: 'each-32', filters: Array.from({ length: 32 }, (_, p) => partitionUplinkFilter(p)) },
  { name: 'each-128', filters: Array.from({ length: 128 }, (_, p) => partitionUplinkFilter(p)) },
];

const rows: {
  case: string;
  session: string;
  filters: number;
  refused: number;
  subscribeMs: number;
  firstUplinkMs: number;
}[] = [];
for (const clean of [false, true]) {
  for (const c of cases) {
    const cluster = await startNatsCluster({ bin, size: 3 });
    try {
      const t0 = performance.now();
      const hub = await mqtt.connectAsync(cluster.urls[0]!, {
        clientId: `tally-hub-bench-${c.name}`,
        protocolVersion: 4,
        clean,
        reconnectPeriod: 0,
      });
      // A filter the broker could not set up comes back as 128 in the SUBACK [MQTT-3.9.3].
      const granted = await new Promise<number[]>((resolve, reject) =>
        hub.subscribe(c.filters, { qos: 1 }, (err, g) =>
          err && !g ? reject(err) : resolve((g ?? []).map((x) => x.qos)),
        ),
      );
      const refused = granted.filter((q) => q === 128).length;
      if (refused > 0) {
        // Why, in the broker's words: the node's log lines about the refusal.
        const log = readFileSync(cluster.nodes[0]!.logFile, 'utf8').split('\n');
        for (const line of log.filter((l) => /\[(ERR|WRN)\]/.test(l)).slice(-3)) console.error(`  ${c.name}: ${line}`);
      }
      const subscribed = performance.now();
      const got = new Promise<number>((resolve) => {
        hub.once('message', () => resolve(performance.now()));
        setTimeout(() => resolve(Number.NaN), 30_000);
      });
      const dev = await mqtt.connectAsync(cluster.urls[1]!, { clientId: 'bench-dev', protocolVersion: 4 });
      await dev.publishAsync(`tally/v1/p/0/d/${'ab'.repeat(32)}/up/status`, 'x', { qos: 1 });
      const delivered = await got;
      rows.push({
        case: c.name,
        session: clean ? 'clean' : 'persistent',
        filters: c.filters.length,
        refused,
        subscribeMs: Math.round(subscribed - t0),
        firstUplinkMs: Math.round(delivered - subscribed),
      });
      await dev.endAsync();
      await hub.endAsync();
    } finally {
      await cluster.stop();
    }
  }
}

console.log('case       session     filters  refused  connect..last SUBACK  then first uplink');
for (const r of rows) {
  console.log(
    `${r.case.padEnd(10)} ${r.session.padEnd(11)} ${String(r.filters).padStart(7)}  ${String(r.refused).padStart(7)}  ${`${r.subscribeMs} ms`.padStart(20)}  ${`${r.firstUplinkMs} ms`.padStart(17)}`,
  );
}
