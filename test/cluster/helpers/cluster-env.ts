// A cluster's shared parts for tests: a throwaway PostgreSQL, a plain MQTT broker
// (support/plain-broker.ts; no Tally policy: the hubs check topics and signatures themselves) on a
// loopback port it keeps across restarts, one data dir per hub holding the same hub key
// (simulator/hub-process.ts), and N hubs
// on them, either in this process (testHub) or as `tally-hub start --cluster` child processes
// that a test can SIGKILL. Every pool made here listens for 'error' (testPool).
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import type { HubConfigInput } from '../../../hub/base/config.js';
import type { HubHandle } from '../../../hub/server.js';
import { loadIdentity, type HubIdentity } from '../../../hub/store/datadir.js';
import { startHubProcess, type HubProcess, sharedDataDirs } from '../../../simulator/hub-process.js';
import { startPostgres, type RunningPostgres } from '../../../support/postgres.js';
import { adminApi } from '../../../support/process-cluster.js';
import { waitFor } from '../../../support/test-hub.js';
import { startPlainBroker, type PlainBroker } from '../../../support/plain-broker.js';
import { testPool } from '../../hub/helpers/postgres.js';
import { testHub } from '../../hub/helpers/hub.js';
export { sharedDataDirs } from '../../../simulator/hub-process.js';
export { startPlainBroker, type PlainBroker } from '../../../support/plain-broker.js';

/** The partitions a cluster splits (hub/cluster/leases.ts). */
export const PARTITIONS = 256;

export const removeDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });

/** PostgreSQL and the broker, started once per test file; each test takes its own database. */
export interface ClusterInfra {
  server: RunningPostgres;
  broker: PlainBroker;
  /** A fresh database, its pool for the test's own queries, and data dirs for `hubs` hubs. */
  prepare(name: string, hubs: number): Promise<ClusterDb>;
  close(): Promise<void>;
}

export interface ClusterDb {
  url: string;
  db: pg.Pool;
  dirs: string[];
  identity: HubIdentity;
  /** Each partition's owner (null = free), from partition_leases. */
  owners(): Promise<{ partition: number; owner_hub: string | null }[]>;
  /** Waits until each named hub owns at least `min` partitions (default: a fair share less 1/6). */
  waitForSplit(hubIds: string[], min?: number, timeoutMs?: number): Promise<void>;
}

export async function startClusterInfra(bin: string): Promise<ClusterInfra> {
  const server = await startPostgres({ binDir: bin });
  const broker = await startPlainBroker().catch(async (err: unknown) => {
    await server.stop();
    throw err;
  });
  const cleanups: (() => Promise<void> | void)[] = [];
  return {
    server,
    broker,
    async prepare(name, hubs) {
      const url = await server.createDatabase(name);
      const { root, dirs } = sharedDataDirs(hubs);
      cleanups.push(() => removeDir(root));
      const db = testPool(url, 2);
      cleanups.push(() => db.end());
      const owners = async () =>
        (
          await db.query<{ partition: number; owner_hub: string | null }>(
            'SELECT partition, owner_hub FROM partition_leases',
          )
        ).rows;
      return {
        url,
        db,
        dirs,
        identity: loadIdentity(dirs[0]!),
        owners,
        async waitForSplit(hubIds, min = Math.floor((PARTITIONS / hubIds.length) * (5 / 6)), timeoutMs = 90_000) {
          await waitFor(
            async () => {
              const rows = await owners();
              return hubIds.every((id) => rows.filter((r) => r.owner_hub === id).length >= min);
            },
            `the partitions spread over ${hubIds.join(', ')}`,
            timeoutMs,
          );
        },
      };
    },
    async close() {
      for (const c of cleanups.splice(0).reverse()) await c();
      await broker.close();
      await server.stop();
    },
  };
}

/** `count` in-process cluster members on one database, ids h0..h(count-1), partitions spread. */
export async function startHubCluster(
  infra: ClusterInfra,
  cdb: ClusterDb,
  count: number,
  extra: HubConfigInput = {},
): Promise<HubHandle[]> {
  const hubs: HubHandle[] = [];
  try {
    for (let i = 0; i < count; i++)
      hubs.push(
        await testHub(cdb.dirs[i]!, {
          brokerUrl: infra.broker.url,
          store: cdb.url,
          clusterHubId: `h${i}`,
          ...extra,
        }),
      );
    await cdb.waitForSplit(hubs.map((_, i) => `h${i}`));
  } catch (err) {
    for (const h of hubs) await h.close();
    throw err;
  }
  return hubs;
}

/** `tally-hub start --cluster h<i>` child processes on one database; a test can SIGKILL them. */
export interface ProcessCluster {
  readonly hubs: (HubProcess | undefined)[];
  /** Starts (or restarts) hub i. */
  start(i: number): Promise<HubProcess>;
  /** Enrols devices through the HTTP API of a running hub, as an operator would. */
  enrol(devices: { publicKey: string; unit: string; pricePerUnit: string; capacity: string }[]): Promise<void>;
  /** An admin request to a running hub's API; the JSON answer. */
  api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  /** Sends the signal to every running hub and waits until they are gone. */
  stopAll(signal?: NodeJS.Signals): Promise<void>;
}

export function processCluster(
  infra: ClusterInfra,
  cdb: ClusterDb,
  count: number,
  options: { leaseMs: number; extraArgs?: string[] },
): ProcessCluster {
  const hubs: (HubProcess | undefined)[] = Array.from({ length: count }, () => undefined);
  const token = readFileSync(join(cdb.dirs[0]!, 'admin-token'), 'utf8').trim();
  const api = adminApi(hubs, token);
  return {
    hubs,
    async start(i) {
      const hub = await startHubProcess([
        '--data',
        cdb.dirs[i]!,
        '--broker',
        infra.broker.url,
        '--store',
        cdb.url,
        '--cluster',
        `h${i}`,
        '--lease',
        `${options.leaseMs}ms`,
        '--credential-window',
        '1h',
        ...(options.extraArgs ?? []),
      ]);
      hubs[i] = hub;
      return hub;
    },
    async enrol(devices) {
      await api('POST', '/api/devices', { devices });
    },
    api,
    async stopAll(signal = 'SIGTERM') {
      for (const h of hubs) await h?.kill(signal);
    },
  };
}
