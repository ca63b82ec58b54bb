// Failover of ownership between processes: three cluster members on one PostgreSQL database with
// the default lease; one is SIGKILLed (no release, no goodbye); the two survivors take every
// partition it held, each with a raised token, and the partitions stay split without overlap.
// bench/cluster.ts times the same takeover over many kills.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLeaseNode, type LeaseNode } from '../../support/lease-cluster.js';
import { startPostgres, type RunningPostgres } from '../../support/postgres.js';
import { describePostgres } from './helpers/postgres.js';

const P = 12;

async function until(what: string, cond: () => boolean, ms = 40_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describePostgres('test/hub/cluster-failover.test.ts', 'ownership failover between processes', (bin) => {
  let server: RunningPostgres;
  const nodes: LeaseNode[] = [];
  beforeAll(async () => {
    server = await startPostgres({ binDir: bin });
  });
  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await server?.stop();
  });

  it('moves a SIGKILLed member partitions to the survivors with raised tokens', async () => {
    const url = await server.createDatabase();
    for (const id of ['hub-1', 'hub-2', 'hub-3']) nodes.push(await startLeaseNode(url, id, P));
    const split = () => nodes.filter((n) => n.alive).every((n) => n.held.size === P / 3);
    await until('an even split', split);
    const disjointCover = (live: LeaseNode[]) => {
      const all = live.flatMap((n) => [...n.held.keys()]);
      return all.length === P && new Set(all).size === P;
    };
    expect(disjointCover(nodes)).toBe(true);

    const [victim, ...survivors] = nodes as [LeaseNode, LeaseNode, LeaseNode];
    const lost = new Map(victim.held);
    const killedAt = Date.now();
    await victim.kill();
    await until('the survivors to hold everything', () => survivors.every((n) => n.held.size === P / 2));
    expect(disjointCover(survivors)).toBe(true);
    for (const [p, token] of lost) {
      const owner = survivors.find((n) => n.held.has(p))!;
      expect(owner.held.get(p)).toBeGreaterThan(token);
    }
    // Nothing the survivors held was taken from them on the way (the split at start gave some back).
    for (const n of survivors) expect(n.events.filter((e) => e.ev === 'lose' && e.at >= killedAt)).toEqual([]);
  });

  it('makes a paused member drop its partitions when it wakes, before it takes any again', async () => {
    const url = await server.createDatabase();
    const members: LeaseNode[] = [];
    for (const id of ['hub-a', 'hub-b', 'hub-c']) members.push(await startLeaseNode(url, id, P));
    nodes.push(...members);
    await until('an even split', () => members.every((n) => n.held.size === P / 3));
    const [sleeper, ...others] = members as [LeaseNode, LeaseNode, LeaseNode];
    const had = new Map(sleeper.held);
    sleeper.pause();
    await until('the others to hold everything', () => others.every((n) => n.held.size === P / 2));
    const wokeAt = Date.now();
    sleeper.resume();
    await until('an even split again', () => members.every((n) => n.held.size === P / 3));
    const after = sleeper.events.filter((e) => e.at >= wokeAt);
    // First it lets go of everything it held, by its own deadline or on seeing the raised tokens ...
    const firstGain = after.findIndex((e) => e.ev === 'gain');
    const drops = after.slice(0, firstGain === -1 ? after.length : firstGain).filter((e) => e.ev === 'lose');
    expect(new Set(drops.map((e) => e.p))).toEqual(new Set(had.keys()));
    for (const e of drops) expect(['expired', 'taken']).toContain(e.reason);
    // ... and what it holds now it took afresh, above every token the others were given meanwhile.
    for (const [p, token] of sleeper.held) if (had.has(p)) expect(token).toBeGreaterThan(had.get(p)! + 1n);
  });
});
