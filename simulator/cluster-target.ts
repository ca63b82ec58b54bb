// `tally-sim run --hubs N`: an embedded cluster to drive. A throwaway PostgreSQL server (initdb in
// a temporary directory, fsync off: it is deleted at the end), an MQTT broker (cluster-broker.ts:
// one aedes node in this process by default, or with --broker-nodes 3 a nats-server cluster; no
// Tally policy: the hubs check topics and signatures themselves), and N `tally-hub start --cluster`
// processes sharing both and one hub key. Hub 0 serves the simulator's API calls (enrolment,
// settlement, bundles) and is never killed; the others are the ones the kill-hub fault SIGKILLs.
//
// Faults of the cluster:
//   kill-hub=PERIOD          every PERIOD s one hub (round robin over 1..N-1) gets SIGKILL; its
//                            failover is timed from the kill to the moment every partition it
//                            held is held again (a higher fencing token in the database), then it
//                            comes back under a new cluster id, as a replaced machine would;
//   broker-node-down=PERIOD  every PERIOD s one broker node goes down: with one aedes node an
//                            outage (it comes back empty after BROKER_DOWN_MS), with NATS a node
//                            failover (SIGKILL, clients move to another node, the node rejoins).
import { rmSync } from 'node:fs';
import pg from 'pg';
import { hexToBytes, partitionOf } from '../protocol/index.js';
import { findPostgres, startPostgres, type RunningPostgres } from '../common/throwaway-postgres.js';
import { sharedDataDirs, startHubProcess, type HubProcess } from './hub-process.js';
import { loadIdentity } from '../hub/store/datadir.js';
import { HubApi } from './hub-api.js';
import type { Target } from './target.js';
import { brokerUrlFor } from './brokers.js';
import { wallNow } from './stages.js';
import { describeBroker, nodeDownMeaning, type BrokerChoice } from './broker-choice.js';
import { startClusterBroker } from './cluster-broker.js';

export { BROKER_DOWN_MS } from './cluster-broker.js';

export interface Failover {
  hub: string;
  atS: number;
  partitions: number;
  /** From SIGKILL to every partition of the dead hub held again. */
  ms: number;
  /** From SIGKILL to the first receipt a device of those partitions verified after one of them
   *  was taken over (so it came from a new owner); null while none has come (before the next kill
   *  or the end of the run). */
  firstReceiptMs: number | null;
}

interface Watch {
  channels: Set<string>;
  takenOverAt: number | undefined;
  firstReceiptAt: number | undefined;
  done(firstAt: number): void;
}

export interface ClusterTarget extends Target {
  readonly hubs: number;
  readonly broker: BrokerChoice;
  readonly failovers: Failover[];
  readonly brokerOutages: number;
  /** Process ids of the hubs and of the broker nodes that run in their own processes. */
  pids(): number[];
  /** SIGKILLs the next hub and times its failover in the background; false (nothing done) while
   *  one is running or when that hub holds no partition yet. */
  killHub(atS: number): Promise<boolean>;
  /** Takes a broker node down for BROKER_DOWN_MS, then brings it back (cluster-broker.ts). */
  brokerNodeDown(): Promise<void>;
  /** Resolves once the failover in progress (if any) is timed and the hub is back. */
  settled(): Promise<void>;
  /** A device verified a receipt for the channel at `atMs` (stages.ts wallNow): what times the
   *  first receipt of a failover. */
  receiptVerified(channelIdHex: string, atMs: number): void;
}

/** True when the binaries an embedded cluster needs (PostgreSQL) are installed. */
export const clusterAvailable = (): boolean => findPostgres() !== undefined;

export async function openClusterTarget(
  count: number,
  log: (m: string) => void,
  brokerChoice: BrokerChoice = { kind: 'aedes', nodes: 1 },
): Promise<ClusterTarget> {
  const bin = findPostgres();
  if (!bin) throw new Error('--hubs needs PostgreSQL (initdb, postgres) installed, or TALLY_PG_BIN');
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const postgres: RunningPostgres = await startPostgres({ binDir: bin });
    cleanups.push(() => postgres.stop());
    const storeUrl = await postgres.createDatabase('tally');
    const db = new pg.Pool({ connectionString: storeUrl, max: 2 });
    db.on('error', () => undefined);
    cleanups.push(() => db.end());

    const broker = await startClusterBroker(brokerChoice);
    cleanups.push(() => broker.close());
    // Every device and hub gets every node, its own start rotated (brokers.ts): connections spread
    // over the nodes, and a client whose node dies moves on to the next.
    const brokerUrl = broker.urls.join(',');

    const { root, dirs } = sharedDataDirs(count, 'sim-cluster');
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const identity = loadIdentity(dirs[0]!);
    const ids: string[] = dirs.map((_, i) => `h${i}`);
    const start = (i: number) =>
      startHubProcess([
        '--data',
        dirs[i]!,
        '--broker',
        brokerUrlFor(brokerUrl, i),
        '--store',
        storeUrl,
        '--cluster',
        ids[i]!,
      ]);
    log(`starting a cluster: PostgreSQL, ${describeBroker(broker)} and ${count} hubs`);
    const procs: HubProcess[] = [];
    cleanups.push(async () => {
      for (const p of procs) await p.kill('SIGTERM');
    });
    for (let i = 0; i < count; i++) procs.push(await start(i));
    const owners = async () =>
      (
        await db.query<{ partition: number; owner_hub: string | null; token: string }>(
          'SELECT partition, owner_hub, token::text AS token FROM partition_leases',
        )
      ).rows;
    // Every partition held, and by every hub, before the fleet comes.
    // Each takes up to ceil(256 / N): the last to join may end a few short of the others.
    const share = Math.ceil(256 / count) - count;
    for (const end = Date.now() + 120_000; ;) {
      const rows = await owners();
      const spread = ids.every((id) => rows.filter((r) => r.owner_hub === id).length >= share);
      if (spread && rows.every((r) => r.owner_hub !== null)) break;
      if (Date.now() > end) throw new Error('the cluster did not spread its partitions within 120 s');
      await new Promise((r) => setTimeout(r, 250));
    }

    // A hub refuses to start while its broker is unreachable (it would serve nobody), so a
    // replacement started during a broker-node-down outage waits for the node and tries again.
    let brokerBack: Promise<void> | undefined;
    const restart = async (i: number): Promise<HubProcess> => {
      for (let attempt = 1; ; attempt++) {
        await brokerBack;
        try {
          return await start(i);
        } catch (err) {
          if (attempt >= 10) throw err;
          log(`replacement hub ${ids[i]} did not start (attempt ${attempt}); trying again`);
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    };

    const failovers: Failover[] = [];
    let brokerOutages = 0;
    let nextVictim = 1;
    let inFlight: Promise<void> | undefined;
    let generation = 0;
    /** The last failover: its devices' channels, when a survivor first took one of its partitions,
     *  and the first receipt verified since (kept open a second for receipts stamped earlier that
     *  arrive in a later batch: each fleet process reports every 250 ms). */
    let watched: Watch | undefined;

    const target: ClusterTarget = {
      kind: 'cluster',
      hubs: count,
      broker: { kind: broker.kind, nodes: broker.nodes },
      pids: () => [
        ...procs.flatMap((p) => (p.exited || p.child.pid === undefined ? [] : [p.child.pid])),
        ...broker.pids(),
      ],
      mqttUrl: brokerUrl,
      api: new HubApi(procs[0]!.httpUrl, identity.adminToken),
      hubKey: hexToBytes(identity.publicKeyHex),
      restartBroker: undefined,
      tlsCa: undefined,
      // The hubs are other processes: their stages and descriptor counts are in their /metrics.
      onSegmentStages: undefined,
      descriptorErrors: undefined,
      groupCommits: undefined,
      failovers,
      get brokerOutages() {
        return brokerOutages;
      },
      async killHub(atS) {
        if (inFlight || count < 2) return false;
        const i = nextVictim;
        const id = ids[i]!;
        const held = (await owners()).filter((r) => r.owner_hub === id);
        // A hub holding nothing (still joining) has nothing to fail over: the next second tries again.
        if (held.length === 0) return false;
        nextVictim = nextVictim + 1 >= count ? 1 : nextVictim + 1;
        const killedAt = performance.now();
        const killedWall = wallNow();
        await procs[i]!.kill('SIGKILL');
        // The channels of the dead hub's devices, to tell their receipts from everyone else's.
        const theirs = new Set(held.map((r) => r.partition));
        const failover: Failover = { hub: id, atS, partitions: held.length, ms: 0, firstReceiptMs: null };
        failovers.push(failover);
        const watch: Watch = {
          channels: new Set(
            (
              await db.query<{ id: string; dev: string }>(
                "SELECT encode(channel_id, 'hex') AS id, encode(device_key, 'hex') AS dev FROM channels",
              )
            ).rows
              .filter((r) => theirs.has(partitionOf(r.dev)))
              .map((r) => r.id),
          ),
          takenOverAt: undefined,
          firstReceiptAt: undefined,
          done: (firstAt) => (failover.firstReceiptMs = Math.round(firstAt - killedWall)),
        };
        watched = watch;
        inFlight = (async () => {
          const tokens = new Map(held.map((r) => [r.partition, BigInt(r.token)]));
          const taken = (r: { partition: number; owner_hub: string | null; token: string }) =>
            r.owner_hub !== null && BigInt(r.token) > tokens.get(r.partition)!;
          for (;;) {
            const rows = await owners();
            // A receipt verified after a partition was taken over cannot be the dead hub's.
            if (watch.takenOverAt === undefined && rows.some((r) => tokens.has(r.partition) && taken(r)))
              watch.takenOverAt = wallNow();
            if (rows.every((r) => !tokens.has(r.partition) || taken(r))) break;
            await new Promise((r) => setTimeout(r, 50));
          }
          watch.takenOverAt ??= wallNow();
          failover.ms = Math.round(performance.now() - killedAt);
          log(`hub ${id} killed at ${atS} s: its ${held.length} partitions held again after ${failover.ms} ms`);
          // A replacement joins under a new id; the cluster spreads the partitions again.
          ids[i] = `h${i}r${++generation}`;
          procs[i] = await restart(i);
        })().finally(() => {
          inFlight = undefined;
        });
        return true;
      },
      async brokerNodeDown() {
        brokerOutages++;
        let back!: () => void;
        brokerBack = new Promise((r) => (back = r));
        try {
          const node = await broker.nodeDown();
          log(`broker node ${node} down and back (${nodeDownMeaning(broker.kind)})`);
        } finally {
          back();
          brokerBack = undefined;
        }
      },
      settled: async () => {
        await inFlight;
      },
      receiptVerified(channelIdHex, atMs) {
        const w = watched;
        if (!w || w.takenOverAt === undefined || atMs < w.takenOverAt || !w.channels.has(channelIdHex)) return;
        if (w.firstReceiptAt !== undefined && atMs >= w.firstReceiptAt) return;
        const first = w.firstReceiptAt === undefined;
        w.firstReceiptAt = atMs;
        w.done(atMs);
        if (first)
          setTimeout(() => {
            if (watched === w) watched = undefined;
          }, 1_000).unref();
      },
      close: async () => {
        await inFlight?.catch(() => undefined);
        await cleanup();
      },
    };
    return target;
  } catch (err) {
    await cleanup();
    throw err;
  }
}
