// A real clustered MQTT broker on one machine, for the tests and for `tally-sim run --hubs N
// --broker-nodes 3`: nats-server (2.9 in Debian) as a cluster of N nodes on free ports of 127.0.0.1, each with JetStream (its own store directory) and an MQTT listener.
// NATS keeps MQTT sessions, retained messages and unacknowledged QoS 1 deliveries in JetStream
// streams replicated across the nodes, so a client whose node dies can resume its session on
// another node. The harness writes the configuration files, waits until every node accepts an MQTT
// CONNECT and the cluster has formed (all routes up, a JetStream meta leader), and can SIGKILL and
// restart one node. Found via TALLY_NATS_BIN, /usr/sbin/nats-server or the PATH.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './free-port.js';
import { findBinary, stopProcess } from './server-process.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';

export const findNatsServer = (): string | undefined =>
  findBinary('TALLY_NATS_BIN', ['/usr/sbin/nats-server', '/usr/local/bin/nats-server'], 'nats-server');

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface NatsNode {
  readonly name: string;
  /** mqtt://127.0.0.1:<port> of this node's MQTT listener. */
  readonly mqttUrl: string;
  readonly mqttPort: number;
  readonly httpPort: number;
  readonly configFile: string;
  readonly logFile: string;
  readonly running: boolean;
  /** The process id while running. */
  readonly pid: number | undefined;
}

export interface NatsCluster {
  readonly dir: string;
  readonly nodes: readonly NatsNode[];
  /** The MQTT URLs of all nodes, in node order. */
  readonly urls: string[];
  /** SIGKILL node `i` (no goodbye to its clients or routes) and wait until it has exited. */
  kill(i: number): Promise<void>;
  /** Start node `i` again with the same configuration and store; resolves when it serves MQTT and
   *  has rejoined the cluster. */
  restart(i: number): Promise<void>;
  /** Stop every node (SIGTERM, SIGKILL after a grace period) and remove the temp dir. */
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  bin: string;
  size?: number;
  /** Extra lines for every node's `mqtt { }` block (e.g. `ack_wait: "5s"`). */
  mqttExtra?: string;
  /** Extra top-level configuration lines for every node (e.g. an `authorization` block). */
  extra?: string;
  /** Upper bound for one node to come up and join, in ms. */
  readyTimeoutMs?: number;
  /** JetStream limits of every node (default 64MB memory, 512MB file: plenty for a test). */
  jetstreamMemory?: string;
  jetstreamFile?: string;
  /** Where the ports come from (default: free ones the system picks; a test gives a taken one). */
  pickPort?: () => Promise<number>;
}

interface NodeState {
  name: string;
  clientPort: number;
  clusterPort: number;
  httpPort: number;
  mqttPort: number;
  storeDir: string;
  configFile: string;
  logFile: string;
  proc: ChildProcess | undefined;
}

function config(n: NodeState, all: NodeState[], o: NatsClusterOptions): string {
  const routes = all.map((m) => `nats-route://127.0.0.1:${m.clusterPort}`).join(', ');
  return [
    `server_name: ${n.name}`,
    `listen: 127.0.0.1:${n.clientPort}`,
    `http: 127.0.0.1:${n.httpPort}`,
    // JetStream holds the MQTT state; every node keeps its own store.
    `jetstream { store_dir: "${n.storeDir}", max_memory_store: ${o.jetstreamMemory ?? '64MB'}, max_file_store: ${o.jetstreamFile ?? '512MB'} }`,
    `cluster {`,
    `  name: tally-test`,
    `  listen: 127.0.0.1:${n.clusterPort}`,
    `  routes: [ ${routes} ]`,
    `}`,
    `mqtt {`,
    `  listen: 127.0.0.1:${n.mqttPort}`,
    ...(o.mqttExtra ? [o.mqttExtra] : []),
    `}`,
    ...(o.extra ? [o.extra] : []),
    '',
  ].join('\n');
}

async function getJson(port: number, path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return undefined;
    return (await res.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** One MQTT CONNECT/CONNACK on the node. The first one on a fresh cluster also makes the server
 *  create its MQTT streams, which needs a JetStream meta leader: a CONNACK proves both. */
async function mqttAnswers(port: number): Promise<boolean> {
  // Not connectAsync: a server that closes the socket without a CONNACK (JetStream not ready yet)
  // leaves its promise unsettled when reconnecting is off.
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: `tally-probe-${port}-${process.pid}`,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  const ok = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 6_000);
    c.once('connect', () => (clearTimeout(timer), resolve(true)));
    c.once('close', () => (clearTimeout(timer), resolve(false)));
    c.once('error', () => (clearTimeout(timer), resolve(false)));
  });
  c.end(true);
  return ok;
}

export async function startNatsCluster(o: NatsClusterOptions): Promise<NatsCluster> {
  const size = o.size ?? 3;
  const readyTimeoutMs = o.readyTimeoutMs ?? 45_000;
  /** A fresh directory, ports and configuration files for every node. */
  const layout = async (): Promise<{ dir: string; states: NodeState[] }> => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-nats-'));
    const states: NodeState[] = [];
    for (let i = 0; i < size; i++) {
      const name = `n${i + 1}`;
      const storeDir = join(dir, name, 'store');
      mkdirSync(storeDir, { recursive: true });
      const port = o.pickPort ?? freePort;
      states.push({
        name,
        clientPort: await port(),
        clusterPort: await port(),
        httpPort: await port(),
        mqttPort: await port(),
        storeDir,
        configFile: join(dir, name, 'nats.conf'),
        logFile: join(dir, name, 'nats.log'),
        proc: undefined,
      });
    }
    for (const s of states) writeFileSync(s.configFile, config(s, states, o));
    return { dir, states };
  };
  let { dir, states } = await layout();

  const spawnNode = (s: NodeState) => {
    const fd = openSync(s.logFile, 'a');
    const proc = spawn(o.bin, ['-c', s.configFile], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    s.proc = proc;
    proc.once('exit', () => {
      if (s.proc === proc) s.proc = undefined;
    });
    // A binary that cannot be started: the node counts as exited (waitReady names its log).
    proc.on('error', () => {
      if (s.proc === proc) s.proc = undefined;
    });
  };

  const joined = async (s: NodeState): Promise<boolean> => {
    const routez = await getJson(s.httpPort, '/routez');
    if (!routez || routez.num_routes !== size - 1) return false;
    const jsz = await getJson(s.httpPort, '/jsz');
    const meta = jsz?.meta_cluster as { leader?: string } | undefined;
    return Boolean(meta?.leader);
  };

  const waitReady = async (s: NodeState) => {
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (!s.proc) throw new Error(`nats-server ${s.name} exited; see ${s.logFile}`);
      if ((await joined(s)) && (await mqttAnswers(s.mqttPort))) return;
      if (Date.now() > deadline)
        throw new Error(`nats-server ${s.name} not ready in ${readyTimeoutMs} ms; see ${s.logFile}`);
      await sleep(200);
    }
  };

  const stopNode = async (s: NodeState, signal: NodeJS.Signals) => {
    if (s.proc) await stopProcess(s.proc, signal);
  };

  const stop = async () => {
    await Promise.all(states.map((s) => stopNode(s, 'SIGTERM')));
    process.off('exit', orphanGuard);
    rmSync(dir, { recursive: true, force: true });
  };

  // A test runner that gives up on this process must not leave servers behind.
  const orphanGuard = () => {
    for (const s of states) s.proc?.kill('SIGKILL');
  };
  process.once('exit', orphanGuard);
  // Each port was free when picked; another process may bind it before the node does (the tests
  // open many connections, whose local ports come from the same range), so a start that failed on
  // a taken port is tried again on fresh ones, as throwaway-postgres does.
  for (let attempt = 0; ; attempt++) {
    for (const s of states) spawnNode(s);
    try {
      await Promise.all(states.map((s) => waitReady(s)));
      break;
    } catch (err) {
      const portTaken = states.some((s) => !s.proc && /address already in use/i.test(readLog(s.logFile)));
      await stop();
      if (!portTaken || attempt >= 3) throw err;
      ({ dir, states } = await layout());
      process.once('exit', orphanGuard);
    }
  }

  const nodes: NatsNode[] = states.map((s) => ({
    name: s.name,
    mqttUrl: `mqtt://127.0.0.1:${s.mqttPort}`,
    mqttPort: s.mqttPort,
    httpPort: s.httpPort,
    configFile: s.configFile,
    logFile: s.logFile,
    get running() {
      return s.proc !== undefined;
    },
    get pid() {
      return s.proc?.pid;
    },
  }));
  const at = (i: number): NodeState => {
    const s = states[i];
    if (!s) throw new RangeError(`no node ${i} in a cluster of ${size}`);
    return s;
  };
  return {
    dir,
    nodes,
    urls: nodes.map((n) => n.mqttUrl),
    kill: (i) => stopNode(at(i), 'SIGKILL'),
    restart: async (i) => {
      const s = at(i);
      if (s.proc) throw new Error(`node ${s.name} is running`);
      spawnNode(s);
      await waitReady(s);
    },
    stop,
  };
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
