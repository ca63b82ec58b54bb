// A cluster of real `tally-hub start --cluster hI` child processes for the benchmarks: one
// throwaway PostgreSQL (fsync and synchronous_commit on), one plain aedes broker in the calling
// process (no Tally policy: the hubs check topics and signatures themselves), and one data dir per
// hub holding the same hub key (simulator/hub-process.ts). Any hub can be SIGKILLed and restarted.
// test/cluster/helpers/cluster-env.ts is the same thing with a test's assertions around it.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { loadIdentity, type HubIdentity } from '../hub/store/datadir.js';
import { sharedDataDirs, startHubProcess, type HubProcess } from '../simulator/hub-process.js';
import { startPlainBroker } from './plain-broker.js';
import { startPostgres } from './postgres.js';

/** The partitions a cluster splits (hub/cluster/leases.ts). */
export const PARTITIONS = 256;

export interface ProcessCluster {
  readonly brokerUrl: string;
  readonly identity: HubIdentity;
  readonly hubs: (HubProcess | undefined)[];
  /** Starts (or restarts) hub i as `h<i>`. */
  start(i: number): Promise<HubProcess>;
  /** Enrols devices through a running hub's API; each one's channel id, in order. */
  enrol(publicKeys: string[], pricePerUnit?: string): Promise<string[]>;
  /** Each partition's owner (null = free), from partition_leases. */
  owners(): Promise<Map<number, string | null>>;
  /** Resolves once the running hubs hold every partition, none above its fair share. */
  waitForSplit(timeoutMs?: number): Promise<void>;
  /** The fleet totals any member reports (GET /api/stats). */
  stats(): Promise<{ acceptedVouchers: string; rejectedVouchers: string }>;
  /** The database, for a benchmark's own checks. */
  readonly db: pg.Pool;
  close(): Promise<void>;
}

/** An admin request to the first running hub's API (`Bearer` the shared admin token); the JSON answer. */
export function adminApi(
  hubs: readonly (HubProcess | undefined)[],
  token: string,
): <T>(method: 'GET' | 'POST', path: string, body?: unknown) => Promise<T> {
  return async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const hub = hubs.find((h) => h && !h.exited);
    if (!hub) throw new Error('no hub of the cluster is running');
    const res = await fetch(`${hub.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
}

export async function startProcessCluster(count: number, options: { leaseMs?: number } = {}): Promise<ProcessCluster> {
  const postgres = await startPostgres({ durable: true });
  const cleanups: (() => Promise<unknown> | void)[] = [() => postgres.stop()];
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    const url = await postgres.createDatabase('cluster');
    const db = new pg.Pool({ connectionString: url, max: 2 });
    db.on('error', () => undefined); // a killed server mid-query is reported by the query itself
    cleanups.push(() => db.end());
    // Every segment is sent at once: aedes's in-flight limit is raised accordingly.
    const broker = await startPlainBroker({ concurrency: 1_000 });
    cleanups.push(() => broker.close());
    const brokerUrl = broker.url;
    const { root, dirs } = sharedDataDirs(count, 'bench');
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const token = readFileSync(join(dirs[0]!, 'admin-token'), 'utf8').trim();
    const hubs: (HubProcess | undefined)[] = Array.from({ length: count }, () => undefined);
    cleanups.push(async () => {
      for (const h of hubs) await h?.kill('SIGKILL');
    });
    const api = adminApi(hubs, token);
    const owners = async () =>
      new Map(
        (
          await db.query<{ partition: number; owner_hub: string | null }>(
            'SELECT partition, owner_hub FROM partition_leases',
          )
        ).rows.map((r) => [r.partition, r.owner_hub] as const),
      );
    return {
      brokerUrl,
      identity: loadIdentity(dirs[0]!),
      hubs,
      db,
      async start(i) {
        const hub = await startHubProcess([
          '--data',
          dirs[i]!,
          '--broker',
          brokerUrl,
          '--store',
          url,
          '--cluster',
          `h${i}`,
          ...(options.leaseMs ? ['--lease', `${options.leaseMs}ms`] : []),
          '--credential-window',
          '1h',
        ]);
        hubs[i] = hub;
        return hub;
      },
      async enrol(publicKeys, pricePerUnit = '3') {
        const ids: string[] = [];
        // In slices: one request per few hundred devices keeps each transaction short.
        for (let i = 0; i < publicKeys.length; i += 500) {
          const { enrolled } = await api<{ enrolled: { channel: { channelId: string } }[] }>('POST', '/api/devices', {
            devices: publicKeys
              .slice(i, i + 500)
              .map((publicKey) => ({ publicKey, unit: 'Wh', pricePerUnit, capacity: String(1n << 62n) })),
          });
          ids.push(...enrolled.map((e) => e.channel.channelId));
        }
        return ids;
      },
      owners,
      async waitForSplit(timeoutMs = 120_000) {
        // Settled, not just spread: every partition held by a running hub and none above its fair
        // share, ceil(P / hubs) (hub/cluster/leases.ts), so no lease moves while a run is timed. A
        // partition moving mid-run drops what its old owner gathered, which the ingest publisher
        // (unlike an agent) never re-sends.
        const end = Date.now() + timeoutMs;
        for (;;) {
          const running = hubs.flatMap((h, i) => (h && !h.exited ? [`h${i}`] : []));
          const share = Math.ceil(PARTITIONS / running.length);
          const held = [...(await owners()).values()];
          const counts = running.map((id) => held.filter((o) => o === id).length);
          if (counts.reduce((a, b) => a + b, 0) === PARTITIONS && counts.every((n) => n <= share)) return;
          if (Date.now() > end) throw new Error(`the partitions did not settle over ${running.join(', ')}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      stats: () => api('GET', '/api/stats'),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
