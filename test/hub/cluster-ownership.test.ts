// The hub side of a lease change, on a real PostgreSQL: a partition gained is loaded from the
// database before its uplinks are subscribed; a partition lost is unsubscribed and its live state
// dropped at once; the fence claim of a commit leaves out what is no longer held.
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { LeaseManager } from '../../hub/cluster/leases.js';
import { Ownership, type PartitionSet, type PartitionState } from '../../hub/cluster/ownership.js';
import { startPostgres, type RunningPostgres } from '../../support/postgres.js';
import { describePostgres, testPool } from './helpers/postgres.js';

const P = 4;
/** Stand-in for the protocol's partition function: the first key byte. */
const partitionOf = (key: Uint8Array) => key[0]! % P;
const device = (p: number) => new Uint8Array(32).fill(p);

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function clusterHub(pool: pg.Pool, hubId: string) {
  const calls: string[] = [];
  const subscribed = new Set<number>();
  const loaded = new Set<number>();
  /** Whether the hub claimed the partition while its state was still loading (it must not). */
  const ownedWhileLoading: boolean[] = [];
  let ownership: Ownership | undefined;
  const subs: PartitionSet = {
    add: (p) => {
      // A partition's uplinks may reach the hub only once its heads are in memory.
      if (!loaded.has(p)) throw new Error(`subscribed to ${p} before loading it`);
      subscribed.add(p);
      calls.push(`add ${p}`);
    },
    remove: (p) => {
      subscribed.delete(p);
      calls.push(`remove ${p}`);
    },
  };
  const state: PartitionState = {
    load: async (p) => {
      await pool.query('SELECT 1'); // reads the database, as the store would
      ownedWhileLoading.push(ownership!.owns(device(p)));
      loaded.add(p);
      calls.push(`load ${p}`);
    },
    drop: (p) => {
      loaded.delete(p);
      calls.push(`drop ${p}`);
    },
  };
  ownership = new Ownership(partitionOf, subs, state);
  const leases = new LeaseManager(pool, {
    hubId,
    partitions: P,
    leaseMs: 2400,
    renewMs: 400,
    marginMs: 400,
    ...ownership.leaseCallbacks,
  });
  ownership.attach(leases);
  return { ownership, leases, calls, subscribed, loaded, ownedWhileLoading };
}

describePostgres(
  'test/hub/cluster-ownership.test.ts',
  'ownership: leases driving subscriptions and live state',
  (bin) => {
    let server: RunningPostgres;
    let pool: pg.Pool | undefined;
    const hubs: LeaseManager[] = [];
    beforeAll(async () => {
      server = await startPostgres({ binDir: bin });
    });
    afterAll(async () => {
      await server?.stop();
    });
    afterEach(async () => {
      for (const h of hubs.splice(0)) await h.stop();
      await pool?.end();
      pool = undefined;
    });

    it('loads then subscribes what it gains, unsubscribes and drops what it loses', async () => {
      const db = testPool(await server.createDatabase(), 6);
      pool = db;
      const a = clusterHub(db, 'hub-a');
      hubs.push(a.leases);
      await a.leases.start();
      expect([...a.subscribed].sort()).toEqual([0, 1, 2, 3]);
      expect(a.calls.slice(0, 2)).toEqual(['load 0', 'add 0']);
      for (let p = 0; p < P; p++) expect(a.ownership.owns(device(p))).toBe(true);

      const b = clusterHub(db, 'hub-b');
      hubs.push(b.leases);
      await b.leases.start();
      await until('a split', () => a.subscribed.size === 2 && b.subscribed.size === 2);
      // a gave back 3 and 2: unsubscribed and dropped, and no longer claims them.
      expect(a.calls.filter((c) => /remove|drop/.test(c))).toEqual(['remove 3', 'drop 3', 'remove 2', 'drop 2']);
      expect(a.ownership.owns(device(3))).toBe(false);
      const { claim, notHeld } = a.ownership.claimFor([device(0), device(3), device(1)]);
      expect(claim.leases.map((l) => l.partition).sort()).toEqual([0, 1]);
      expect(notHeld).toEqual([3]);

      // a stops renewing: b loads and subscribes everything, each partition loaded first.
      a.leases.halt();
      await until('b owns everything', () => b.subscribed.size === P);
      for (const p of [0, 1]) expect(b.calls.indexOf(`load ${p}`)).toBeLessThan(b.calls.indexOf(`add ${p}`));
      expect(a.ownership.owns(device(0))).toBe(false);
      // Never claimed while its state was still loading.
      expect(a.ownedWhileLoading.length + b.ownedWhileLoading.length).toBeGreaterThan(P);
      expect([...a.ownedWhileLoading, ...b.ownedWhileLoading].every((owned) => !owned)).toBe(true);
    });
  },
);
