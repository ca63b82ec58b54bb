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
// With NATS no broker socket lives in the simulator's process, so a fleet as large as the fleet
// processes can hold fits under one process's descriptor limit.
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { findNatsServer, startNatsCluster } from '../common/nats-cluster.js';

/** How long a broker-node-down keeps the node down. */
export const BROKER_DOWN_MS = 2_000;

export type BrokerKind = 'aedes' | 'nats';

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

/** True when `--broker-nodes n` can run here: aedes always, NATS when a nats-server is installed. */
export const brokerAvailable = (nodes: number): boolean => nodes === 1 || findNatsServer() !== undefined;

/** Node counts `--broker-nodes` takes: one aedes node, or an odd NATS cluster (a majority of its
 *  JetStream meta group survives one node down only from three nodes up). */
export const validBrokerNodes = (n: number): boolean => n === 1 || (n >= 3 && n <= 7 && n % 2 === 1);

async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export async function startClusterBroker(nodes: number): Promise<ClusterBroker> {
  return nodes === 1 ? startAedes() : startNats(nodes);
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
  let next = 0;
  return {
    kind: 'nats',
    nodes: size,
    urls: cluster.urls,
    async nodeDown() {
      const i = next;
      next = (next + 1) % size;
      await cluster.kill(i);
      await new Promise((r) => setTimeout(r, BROKER_DOWN_MS));
      await cluster.restart(i);
      return cluster.nodes[i]!.name;
    },
    pids: () => cluster.nodes.flatMap((n) => (n.pid === undefined ? [] : [n.pid])),
    close: () => cluster.stop(),
  };
}
