// The broker of `tally-sim run --hubs N`, and what its broker-node-down fault does to it.
//
//   --broker-nodes 1 (default)  one aedes node in the simulator's process. broker-node-down is an
//                               outage: the only node goes down for BROKER_DOWN_MS and comes back
//                               empty (sessions and queued messages gone) on the same port; every
//                               device and hub waits for it.
//   --broker-nodes 3 (or 5, 7)  a nats-server cluster (common/nats-cluster.ts): its own processes,
//                               MQTT sessions and unacknowledged QoS 1 messages kept in JetStream,
//                               replicated over the nodes. broker-node-down is a node failover: one
//                               node (round robin) gets SIGKILL, its devices and hubs reconnect to
//                               another node (each has every node's URL, start order rotated), and
//                               the node is restarted BROKER_DOWN_MS later and rejoins the cluster.
//   --broker-engine mosquitto   2 to 7 Mosquitto nodes bridged to the first (common/mosquitto-cluster.ts):
//                               a subscription is a topic-tree entry, not a JetStream consumer, so
//                               tens of thousands of sessions start in seconds. Sessions are not
//                               shared: broker-node-down SIGKILLs a node, its clients start new
//                               sessions on another, and it comes back empty.
// With NATS or Mosquitto no broker socket lives in the simulator's process, so a fleet as large as
// the fleet processes can hold fits under one process's descriptor limit.
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { findMosquittoBin, startMosquittoCluster } from '../common/mosquitto-cluster.js';
import { findNatsServer, startNatsCluster } from '../common/nats-cluster.js';
import type { BrokerChoice, BrokerKind } from './broker-choice.js';

/** How long a broker-node-down keeps the node down. */
export const BROKER_DOWN_MS = 2_000;

export interface ClusterBroker {
  readonly kind: BrokerKind;
  readonly nodes: number;
  /** Every node's MQTT URL, in node order. */
  readonly urls: string[];
  /** Takes one node down (see above); resolves when it serves again. Returns the node's name. */
  nodeDown(): Promise<string>;
  /** Process ids of the broker's own processes (none for aedes: it is this process). */
  pids(): number[];
  close(): Promise<void>;
}

/** Why the chosen broker cannot run here (its server is not installed), or undefined. */
export function brokerMissing(c: BrokerChoice): string | undefined {
  if (c.kind === 'nats' && findNatsServer() === undefined)
    return '--broker-nodes 3 needs nats-server installed (Debian: nats-server), or TALLY_NATS_BIN; --broker-nodes 1 runs an aedes node without it';
  if (c.kind === 'mosquitto' && findMosquittoBin() === undefined)
    return '--broker-engine mosquitto needs mosquitto installed (Debian: mosquitto), or TALLY_MOSQUITTO_BIN';
  return undefined;
}

async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export async function startClusterBroker(c: BrokerChoice): Promise<ClusterBroker> {
  if (c.kind === 'mosquitto') return startMosquitto(c.nodes);
  return c.kind === 'nats' ? startNats(c.nodes) : startAedes();
}

// Nagle off on the broker's sockets, as the hub's embedded broker has it (common/no-delay.ts says why).
async function startAedes(): Promise<ClusterBroker> {
  let aedes = await Aedes.createBroker();
  let server = createServer({ noDelay: true }, aedes.handle);
  server.on('error', () => undefined);
  const port = await listen(server, 0);
  const close = async () => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    kind: 'aedes',
    nodes: 1,
    urls: [`mqtt://127.0.0.1:${port}`],
    async nodeDown() {
      await close();
      await new Promise((r) => setTimeout(r, BROKER_DOWN_MS));
      aedes = await Aedes.createBroker();
      server = createServer({ noDelay: true }, aedes.handle);
      server.on('error', () => undefined);
      await listen(server, port);
      return 'aedes';
    },
    pids: () => [],
    close,
  };
}

/** Limits of every NATS node, sized for a fleet of tens of thousands of devices on one machine:
 *  each device's persistent session is a JetStream consumer and a session record, and QoS 1
 *  messages not yet acknowledged wait in JetStream. */
const NATS_MQTT = [
  // A QoS 1 delivery a device did not acknowledge (its node died) is sent again after 5 s, not 30.
  '  ack_wait: "5s"',
  // One replica per session consumer, its state in memory: a QoS 1 subscription is otherwise a
  // Raft group replicated over three nodes, and the fleet connects at ~35 sessions/s instead of
  // ~375/s (bench/nats-sessions.ts). The messages stay in the replicated MQTT streams.
  '  consumer_replicas: 1',
  '  consumer_memory_storage: true',
].join('\n');
const NATS_TOP = [
  // The default (64K) is above what a 20,000-descriptor process can hold; say so explicitly.
  'max_connections: 65536',
].join('\n');

/** broker-node-down on a broker of several processes: SIGKILL the nodes in turn, each started
 *  again BROKER_DOWN_MS later. */
function nodesInTurn(
  cluster: { readonly urls: string[]; kill(i: number): Promise<void>; restart(i: number): Promise<void> },
  name: (i: number) => string,
): () => Promise<string> {
  let next = 0;
  return async () => {
    const i = next;
    next = (next + 1) % cluster.urls.length;
    await cluster.kill(i);
    await new Promise((r) => setTimeout(r, BROKER_DOWN_MS));
    await cluster.restart(i);
    return name(i);
  };
}

async function startNats(size: number): Promise<ClusterBroker> {
  const bin = findNatsServer();
  if (!bin) throw new Error('--broker-nodes needs nats-server installed (Debian: nats-server), or TALLY_NATS_BIN');
  const cluster = await startNatsCluster({
    bin,
    size,
    mqttExtra: NATS_MQTT,
    extra: NATS_TOP,
    jetstreamMemory: '1GB',
    jetstreamFile: '8GB',
    readyTimeoutMs: 90_000,
  });
  return {
    kind: 'nats',
    nodes: size,
    urls: cluster.urls,
    nodeDown: nodesInTurn(cluster, (i) => cluster.nodes[i]!.name),
    pids: () => cluster.nodes.flatMap((n) => (n.pid === undefined ? [] : [n.pid])),
    close: () => cluster.stop(),
  };
}

async function startMosquitto(size: number): Promise<ClusterBroker> {
  const bin = findMosquittoBin();
  if (!bin) throw new Error('--broker-engine mosquitto needs mosquitto installed (Debian: mosquitto)');
  const cluster = await startMosquittoCluster({ bin, size });
  return {
    kind: 'mosquitto',
    nodes: size,
    urls: cluster.urls,
    nodeDown: nodesInTurn(cluster, (i) => cluster.names[i]!),
    pids: () => cluster.pids(),
    close: () => cluster.stop(),
  };
}
