// Several Mosquitto nodes joined by Mosquitto's own bridges, for `tally-sim run --hubs N
// --broker-nodes N --broker-engine mosquitto`: a fleet too large for one process's descriptors,
// spread over broker processes whose subscriptions are topic-tree entries (a session costs what a
// socket costs), where nats-server makes each one a JetStream consumer (docs/scale-out.md).
//
// The shape is a star: node 1 is the core, every other node bridges `tally/v1/#` both ways to it,
// so a message published on any node reaches every node once (Mosquitto does not send a message
// back over the bridge it came in on). A client on any node sees the whole topic tree.
// It is not a cluster in the NATS sense: a session lives on its node only. A device whose node
// dies starts a new session on the next node, and what its old node held is gone; the agent's
// window re-sends what was not receipted and the hub re-receipts what it already committed.
// While the core is down the other nodes do not hear each other; each bridge keeps what it has to
// forward and delivers it when the core is back.
// Found via TALLY_MOSQUITTO_BIN, /usr/sbin/mosquitto or the PATH.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { freePort } from './free-port.js';
import { findBinary, stopProcess } from './server-process.js';

export const findMosquittoBin = (): string | undefined =>
  findBinary(
    'TALLY_MOSQUITTO_BIN',
    ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/opt/homebrew/sbin/mosquitto'],
    'mosquitto',
  );

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface MosquittoCluster {
  readonly dir: string;
  /** Node names (m1 is the core), in node order. */
  readonly names: string[];
  /** The MQTT URLs of all nodes, in node order. */
  readonly urls: string[];
  /** Process ids of the running nodes. */
  pids(): number[];
  /** SIGKILL node `i` and wait until it has exited. */
  kill(i: number): Promise<void>;
  /** Start node `i` again (empty: no persistence); resolves when its bridges carry messages. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface MosquittoClusterOptions {
  bin: string;
  /** Nodes, 2 or more. */
  size: number;
  readyTimeoutMs?: number;
}

interface NodeState {
  name: string;
  port: number;
  configFile: string;
  logFile: string;
  proc: ChildProcess | undefined;
}

/** The topics the bridges carry: everything of the protocol [P-6.7], nothing else. */
const BRIDGED = 'tally/v1/#';

function config(n: NodeState, core: NodeState): string {
  const lines = [
    `listener ${n.port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    // A device's window and the hubs' receipts stay in flight and queued; the defaults (20 and
    // 1,000) would stall a bridge that carries a whole node's traffic.
    'max_inflight_messages 1000',
    'max_queued_messages 100000',
    'set_tcp_nodelay true',
    `log_dest file ${n.logFile}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    // Started as root, mosquitto would switch to its own user, who cannot read this temp dir.
    `user ${userInfo().username}`,
  ];
  if (n !== core) {
    lines.push(
      `connection ${n.name}-to-${core.name}`,
      `address 127.0.0.1:${core.port}`,
      `topic ${BRIDGED} both 1`,
      `remote_clientid tally-bridge-${n.name}`,
      `local_clientid tally-bridge-${n.name}-local`,
      // Queued messages survive a reconnection of the bridge (both ends keep its session).
      'cleansession false',
      // No retained $SYS notices on the core; the bridge comes back within a second or two.
      'notifications false',
      'restart_timeout 1 2',
      'keepalive_interval 10',
    );
  }
  return lines.join('\n') + '\n';
}

/** Publishes on `from` until `to` receives it: proves the bridges between them carry messages. */
async function carries(from: number, to: number, timeoutMs: number): Promise<boolean> {
  const topic = `tally/v1/probe/${process.pid}/${from}-${to}-${Date.now()}`;
  const opts = { protocolVersion: 4 as const, clean: true, reconnectPeriod: 0, connectTimeout: 3_000 };
  const sub = mqtt.connect(`mqtt://127.0.0.1:${to}`, opts);
  const pub = mqtt.connect(`mqtt://127.0.0.1:${from}`, opts);
  sub.on('error', () => undefined);
  pub.on('error', () => undefined);
  try {
    const got = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      sub.on('message', (t) => {
        if (t !== topic) return;
        clearTimeout(timer);
        resolve(true);
      });
    });
    await new Promise<void>((resolve, reject) => {
      sub.once('connect', () => sub.subscribe(topic, { qos: 0 }, (err) => (err ? reject(err) : resolve())));
      sub.once('close', () => reject(new Error('closed')));
    });
    const sender = setInterval(() => {
      if (pub.connected) pub.publish(topic, 'probe', { qos: 0 });
    }, 100);
    const ok = await got;
    clearInterval(sender);
    return ok;
  } catch {
    return false;
  } finally {
    sub.end(true);
    pub.end(true);
  }
}

export async function startMosquittoCluster(o: MosquittoClusterOptions): Promise<MosquittoCluster> {
  if (o.size < 2) throw new RangeError('a bridged Mosquitto cluster has 2 nodes or more');
  const readyTimeoutMs = o.readyTimeoutMs ?? 30_000;
  const dir = mkdtempSync(join(tmpdir(), 'tally-mosquitto-'));
  const states: NodeState[] = [];
  for (let i = 0; i < o.size; i++) {
    const name = `m${i + 1}`;
    states.push({
      name,
      port: await freePort(),
      configFile: join(dir, `${name}.conf`),
      logFile: join(dir, `${name}.log`),
      proc: undefined,
    });
  }
  const core = states[0]!;
  for (const s of states) writeFileSync(s.configFile, config(s, core));

  const spawnNode = (s: NodeState) => {
    const fd = openSync(s.logFile, 'a');
    const proc = spawn(o.bin, ['-c', s.configFile], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    s.proc = proc;
    const gone = () => {
      if (s.proc === proc) s.proc = undefined;
    };
    proc.once('exit', gone);
    proc.on('error', gone);
  };
  const logOf = (s: NodeState) => {
    try {
      return readFileSync(s.logFile, 'utf8').slice(-2_000);
    } catch {
      return '';
    }
  };

  // Ready when the node's messages reach the core and the core's reach it (for the core: every
  // other node's, both ways).
  const waitReady = async (s: NodeState) => {
    const deadline = Date.now() + readyTimeoutMs;
    const peers = s === core ? states.filter((p) => p !== core) : [core];
    for (const p of peers) {
      for (;;) {
        if (!s.proc) throw new Error(`mosquitto ${s.name} exited: ${logOf(s)}`);
        if ((await carries(s.port, p.port, 2_000)) && (await carries(p.port, s.port, 2_000))) break;
        if (Date.now() > deadline)
          throw new Error(`mosquitto ${s.name} not bridged in ${readyTimeoutMs} ms: ${logOf(s)}`);
        await sleep(200);
      }
    }
  };

  const stopNode = async (s: NodeState, signal: NodeJS.Signals) => {
    if (s.proc) await stopProcess(s.proc, signal);
  };
  const orphanGuard = () => {
    for (const s of states) s.proc?.kill('SIGKILL');
  };
  const stop = async () => {
    await Promise.all(states.map((s) => stopNode(s, 'SIGTERM')));
    process.off('exit', orphanGuard);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', orphanGuard);
  for (const s of states) spawnNode(s);
  try {
    for (const s of states.slice(1)) await waitReady(s);
  } catch (err) {
    await stop();
    throw err;
  }
  const at = (i: number): NodeState => {
    const s = states[i];
    if (!s) throw new RangeError(`no node ${i} in a cluster of ${o.size}`);
    return s;
  };
  return {
    dir,
    names: states.map((s) => s.name),
    urls: states.map((s) => `mqtt://127.0.0.1:${s.port}`),
    pids: () => states.flatMap((s) => (s.proc?.pid === undefined ? [] : [s.proc.pid])),
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
