// Partition leases on a real PostgreSQL: hubs split the partitions by fair share, a hub that stops
// renewing loses them to another after the lease, with a bigger token, and a hub that missed the
// takeover (a paused process) cannot commit for them any more: the fence in the commit refuses its
// old token, and a takeover waits for a commit already holding the lease row.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { LeaseManager, type LossReason } from '../../hub/cluster/leases.js';
import { ClusterConfigError, ensureClusterSchema } from '../../hub/store/cluster-schema.js';
import { clusterStatus } from '../../hub/store/cluster-status.js';
import { checkFence, LeaseLostError, type FenceClaim } from '../../hub/store/fence.js';
import { startPostgres, type RunningPostgres } from '../../support/postgres.js';
import { describePostgres, testPool } from './helpers/postgres.js';

const P = 8;
const LEASE = { leaseMs: 2400, renewMs: 400, marginMs: 400 };

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A lease manager with a log of what it gained and lost. */
function hub(pool: pg.Pool, hubId: string, extra: Partial<ConstructorParameters<typeof LeaseManager>[1]> = {}) {
  const gained: { partition: number; token: bigint }[] = [];
  const lost: { partition: number; reason: LossReason }[] = [];
  const released: number[][] = [];
  const leases = new LeaseManager(pool, {
    hubId,
    partitions: P,
    ...LEASE,
    onGain: (partition, token) => void gained.push({ partition, token }),
    onLose: (partition, reason) => void lost.push({ partition, reason }),
    beforeRelease: async (parts) => void released.push(parts),
    ...extra,
  });
  return { leases, gained, lost, released };
}

describePostgres('test/hub/cluster-leases.test.ts', 'partition leases with fencing tokens', (bin) => {
  let server: RunningPostgres;
  let pool: pg.Pool | undefined;
  const managers: LeaseManager[] = [];
  beforeAll(async () => {
    server = await startPostgres({ binDir: bin });
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.stop();
    await pool?.end();
    pool = undefined;
  });
  async function freshDb(): Promise<pg.Pool> {
    const fresh = testPool(await server.createDatabase(), 8);
    pool = fresh;
    return fresh;
  }
  function track<T extends { leases: LeaseManager }>(h: T): T {
    managers.push(h.leases);
    return h;
  }
  const leaseRow = async (pool: pg.Pool, p: number) =>
    (
      await pool.query<{ owner_hub: string | null; token: string }>(
        'SELECT owner_hub, token FROM partition_leases WHERE partition = $1',
        [p],
      )
    ).rows[0]!;

  it('fixes the partition count when the database is created', async () => {
    const pool = await freshDb();
    expect(await ensureClusterSchema(pool, P)).toBe(P);
    expect(await ensureClusterSchema(pool, P)).toBe(P);
    await expect(ensureClusterSchema(pool, 16)).rejects.toBeInstanceOf(ClusterConfigError);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM partition_leases');
    expect(rows[0].n).toBe(P);
  });

  it('lets two hubs split the partitions, the first giving back what is above its share', async () => {
    const pool = await freshDb();
    const a = track(hub(pool, 'hub-a'));
    await a.leases.start();
    expect(a.leases.owned().size).toBe(P); // alone: everything

    const b = track(hub(pool, 'hub-b'));
    await b.leases.start();
    await until('an even split', () => a.leases.owned().size === P / 2 && b.leases.owned().size === P / 2);
    const owners = new Set([...a.leases.owned().keys(), ...b.leases.owned().keys()]);
    expect(owners.size).toBe(P); // disjoint, and every partition owned
    // a flushed before giving back, and stopped acknowledging for what it gave back.
    expect(a.released.flat().sort()).toEqual(a.lost.map((l) => l.partition).sort());
    expect(a.lost.every((l) => l.reason === 'released')).toBe(true);
    for (const { partition } of a.lost) expect(a.leases.holds(partition)).toBe(false);
    for (const [p, token] of b.leases.owned()) {
      expect(await leaseRow(pool, p)).toEqual({ owner_hub: 'hub-b', token: token.toString() });
    }
  });

  it('keeps every partition it takes when loading them outlasts the lease', async () => {
    // 64 partitions whose loads take 1.5 s each: loaded one after the other they would take 96 s,
    // and even two batches (3 s) outlast the 2 s local deadline unless a renewal comes between them.
    const pool = await freshDb();
    const partitions = 64;
    const loading = new Set<number>();
    let mostAtOnce = 0;
    const a = track(
      hub(pool, 'hub-a', {
        partitions,
        onGain: async (p) => {
          loading.add(p);
          mostAtOnce = Math.max(mostAtOnce, loading.size);
          await new Promise((r) => setTimeout(r, 1_500));
          loading.delete(p);
        },
      }),
    );
    await a.leases.start();
    expect(a.leases.owned().size).toBe(partitions);
    expect(a.lost).toEqual([]);
    expect(mostAtOnce).toBeGreaterThan(1);
    // And the leases stay: past a whole lease nothing expired, every row is still in a's name.
    await new Promise((r) => setTimeout(r, LEASE.leaseMs + 500));
    expect(a.lost).toEqual([]);
    expect(a.leases.owned().size).toBe(partitions);
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM partition_leases WHERE owner_hub = 'hub-a' AND expires_at > now()",
    );
    expect(rows[0]!.n).toBe(partitions);
  });

  it('gives back a partition it cannot load, and undoes what the load did', async () => {
    const pool = await freshDb();
    const a = track(
      hub(pool, 'hub-a', {
        onGain: async (p) => {
          if (p === 3) throw new Error('no database for you');
        },
      }),
    );
    await a.leases.start();
    a.leases.halt(); // no second tick to take it again while we look
    expect(a.leases.holds(3)).toBe(false);
    expect(a.lost).toEqual([{ partition: 3, reason: 'released' }]); // onLose ran: the load is undone
    expect(a.leases.owned().size).toBe(P - 1);
    expect((await leaseRow(pool, 3)).owner_hub).toBeNull(); // free for another hub
  });

  it('moves the partitions of a hub that stops renewing to another, with bigger tokens', async () => {
    const pool = await freshDb();
    const a = track(hub(pool, 'hub-a'));
    const b = track(hub(pool, 'hub-b'));
    await a.leases.start();
    await b.leases.start();
    await until('an even split', () => a.leases.owned().size === P / 2 && b.leases.owned().size === P / 2);
    const before = a.leases.owned();

    a.leases.halt(); // a paused or killed process: no renewal, no release
    await until('b owns everything', () => b.leases.owned().size === P);
    // a's local deadline passed before b could take over: it no longer claims anything.
    expect(a.leases.owned().size).toBe(0);
    expect(a.leases.claim(before.keys())).toBeUndefined();
    const owned = b.leases.owned();
    for (const [p, oldToken] of before) {
      expect(owned.get(p)).toBeGreaterThan(oldToken);
      expect((await leaseRow(pool, p)).owner_hub).toBe('hub-b');
    }
  });

  it('hands everything over at a clean stop, without waiting for the leases to run out', async () => {
    const pool = await freshDb();
    const a = hub(pool, 'hub-a');
    const b = track(hub(pool, 'hub-b'));
    await a.leases.start();
    await b.leases.start();
    await until('an even split', () => a.leases.owned().size === P / 2 && b.leases.owned().size === P / 2);
    const had = [...a.leases.owned().keys()];
    const before = await clusterStatus(pool, LEASE.leaseMs);
    expect(before.hubs.map((h) => [h.id, h.live, h.partitions.length])).toEqual([
      ['hub-a', true, P / 2],
      ['hub-b', true, P / 2],
    ]);
    expect([before.free, before.expired]).toEqual([[], []]);
    a.released.length = 0;
    await a.leases.stop();
    // Flushed, then given back, then out of the hubs table.
    expect(a.released.map((r) => [...r].sort((x, y) => x - y))).toEqual([[...had].sort((x, y) => x - y)]);
    expect(new Set(a.lost.filter((l) => l.reason === 'stopped').map((l) => l.partition))).toEqual(new Set(had));
    for (const p of had) expect((await leaseRow(pool, p)).owner_hub).toBeNull();
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM hubs WHERE id = 'hub-a'");
    expect(rows[0].n).toBe(0);
    await until('b owns everything', () => b.leases.owned().size === P);
    const after = await clusterStatus(pool, LEASE.leaseMs);
    expect(after.hubs.map((h) => [h.id, h.partitions.length])).toEqual([['hub-b', P]]);
  });

  it('refuses the commit of a paused holder after a takeover, and nothing it wrote is kept', async () => {
    const pool = await freshDb();
    await pool.query('CREATE TABLE heads (channel text PRIMARY KEY, seq int8 NOT NULL)');
    await pool.query("INSERT INTO heads VALUES ('ch', 0)");
    const a = track(hub(pool, 'hub-a'));
    await a.leases.start();
    const stale = a.leases.claim([3])!; // what a paused process still has in memory
    a.leases.halt();

    const b = track(hub(pool, 'hub-b'));
    await b.leases.start();
    await until('b takes partition 3', () => b.leases.holds(3));

    // The paused hub wakes up and commits with what it believed: the fence refuses it.
    await expect(fencedCommit(pool, stale, 'ch', 0n, 10n)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await headSeq(pool, 'ch')).toBe(0n);
    // The owner commits.
    await fencedCommit(pool, b.leases.claim([3])!, 'ch', 0n, 10n);
    expect(await headSeq(pool, 'ch')).toBe(10n);
  });

  it('fences a paused process off from its successor under the same hub id: the token decides', async () => {
    const pool = await freshDb();
    await pool.query('CREATE TABLE heads (channel text PRIMARY KEY, seq int8 NOT NULL)');
    await pool.query("INSERT INTO heads VALUES ('ch', 0)");
    const old = track(hub(pool, 'hub-a'));
    await old.leases.start();
    const stale = old.leases.claim([1])!;
    old.leases.halt();
    // The process is restarted under the same id (its supervisor thought it dead): it retakes its
    // own rows at once, each with a raised token.
    const restarted = track(hub(pool, 'hub-a'));
    await restarted.leases.start();
    const fresh = restarted.leases.claim([1])!;
    expect(fresh.leases[0]!.token).toBe(stale.leases[0]!.token + 1n);
    await expect(fencedCommit(pool, stale, 'ch', 0n, 4n)).rejects.toBeInstanceOf(LeaseLostError);
    await fencedCommit(pool, fresh, 'ch', 0n, 4n);
    expect(await headSeq(pool, 'ch')).toBe(4n);
  });

  it('lets two hubs that both believe they own a device count its vouchers once', async () => {
    const pool = await freshDb();
    await pool.query('CREATE TABLE heads (channel text PRIMARY KEY, seq int8 NOT NULL)');
    await pool.query("INSERT INTO heads VALUES ('dev', 0)");
    const a = track(hub(pool, 'hub-a'));
    await a.leases.start();
    const claimA = a.leases.claim([5])!;
    a.leases.halt();
    // Forced takeover by b while a's lease has not expired yet in a's mind: expire it in the
    // database (as an operator would when a hub is known dead) so b can take it at once.
    await pool.query("UPDATE partition_leases SET expires_at = now() - interval '1 second' WHERE partition = 5");
    const b = track(hub(pool, 'hub-b'));
    await b.leases.start();
    await until('b takes partition 5', () => b.leases.holds(5));
    const claimB = b.leases.claim([5])!;

    // Both move the same head 0 -> 10 at once: a receipt is published only after a commit.
    const receipts: string[] = [];
    const attempt = (who: string, claim: FenceClaim) =>
      fencedCommit(pool, claim, 'dev', 0n, 10n).then(
        () => void receipts.push(who),
        (err: unknown) => err,
      );
    const [ra, rb] = await Promise.all([attempt('a', claimA), attempt('b', claimB)]);
    expect(ra).toBeInstanceOf(LeaseLostError);
    expect(rb).toBeUndefined();
    expect(receipts).toEqual(['b']);
    expect(await headSeq(pool, 'dev')).toBe(10n);
  });

  it('makes a takeover wait for a commit that already holds the lease row', async () => {
    const pool = await freshDb();
    await pool.query('CREATE TABLE heads (channel text PRIMARY KEY, seq int8 NOT NULL)');
    await pool.query("INSERT INTO heads VALUES ('ch', 0)");
    const a = track(hub(pool, 'hub-a'));
    await a.leases.start();
    const claim = a.leases.claim([2])!;
    a.leases.halt();

    const tx = await pool.connect();
    await tx.query('BEGIN');
    await checkFence(tx, claim); // holds partition 2's row FOR SHARE
    // Another hub's takeover (as `take` does, minus SKIP LOCKED, so that it waits) blocks ...
    let tookOver = false;
    const takeover = pool
      .query(
        `UPDATE partition_leases SET owner_hub = 'hub-b', token = token + 1, expires_at = now() + interval '5 s'
          WHERE partition = 2 RETURNING token`,
      )
      .then((r) => {
        tookOver = true;
        return BigInt(r.rows[0].token);
      });
    await until('the takeover to wait on the lease row', async () => {
      const { rows } = await pool.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE partition_leases%'",
      );
      return rows[0].n === 1;
    });
    expect(tookOver).toBe(false);
    await tx.query("UPDATE heads SET seq = 7 WHERE channel = 'ch' AND seq = 0");
    await tx.query('COMMIT');
    tx.release();
    // ... until the commit ends; then it raises the token, and reads the head a committed.
    expect(await takeover).toBe(claim.leases[0]!.token + 1n);
    expect(await headSeq(pool, 'ch')).toBe(7n);
    await expect(fencedCommit(pool, claim, 'ch', 7n, 9n)).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('stops acknowledging at its local deadline when the database is unreachable', async () => {
    const own = await startPostgres({ binDir: bin });
    const lonePool = new pg.Pool({
      connectionString: await own.createDatabase(),
      max: 2,
      connectionTimeoutMillis: 10_000,
    });
    lonePool.on('error', () => {}); // the server goes away under idle clients
    const lost: LossReason[] = [];
    const leases = new LeaseManager(lonePool, {
      hubId: 'hub-a',
      partitions: P,
      ...LEASE,
      onGain: () => {},
      onLose: (_p, reason) => void lost.push(reason),
    });
    try {
      await leases.start();
      expect(leases.owned().size).toBe(P);
      await own.stop(); // the database is gone: no renewal can succeed
      await until('every partition dropped', () => lost.length === P);
      expect(new Set(lost)).toEqual(new Set(['expired']));
      expect(leases.owned().size).toBe(0);
      expect(leases.claim([0])).toBeUndefined();
    } finally {
      leases.halt();
      await lonePool.end().catch(() => {});
    }
  });
});

/** A minimal fenced commit: the fence, then a compare-and-set head move, in one transaction. */
async function fencedCommit(pool: pg.Pool, claim: FenceClaim, channel: string, from: bigint, to: bigint) {
  const tx = await pool.connect();
  try {
    await tx.query('BEGIN');
    await checkFence(tx, claim);
    const r = await tx.query('UPDATE heads SET seq = $3 WHERE channel = $1 AND seq = $2', [
      channel,
      from.toString(),
      to.toString(),
    ]);
    if (r.rowCount !== 1) throw new Error('head moved');
    await tx.query('COMMIT');
  } catch (err) {
    await tx.query('ROLLBACK');
    throw err;
  } finally {
    tx.release();
  }
}

async function headSeq(pool: pg.Pool, channel: string): Promise<bigint> {
  const { rows } = await pool.query<{ seq: string }>('SELECT seq FROM heads WHERE channel = $1', [channel]);
  return BigInt(rows[0]!.seq);
}
