// Partition ownership on PostgreSQL: lease rows with fencing tokens [DESIGN: ownership].
//
// Every tick (lease/3 by default) a hub, in this order:
//   1. heartbeats in `hubs` (the database's clock decides who is alive);
//   2. renews the leases it holds, with the tokens it holds (a row whose token moved, or that
//      expired by the database's clock, is lost);
//   3. computes its fair share, ceil(P / live hubs);
//   4. takes free or expired leases up to that share (token + 1, expiry = the database's now() +
//      lease: one clock for every hub), or releases what is above it after flushing.
//
// The database's lease is what other hubs respect; the hub itself also keeps a LOCAL deadline per
// partition on the monotonic clock: start of the renewal that last succeeded + lease - margin. The
// renewal started before the database read its clock, so the local deadline always falls before
// the database's expiry; past it the hub drops the partition and acknowledges nothing more for it,
// even if the database cannot be reached to say so. The commit's fence (hub/store/fence.ts) is the
// second line: a hub that missed its deadline (a paused process) writes nothing after a takeover.
//
// This is leasing on PostgreSQL's row locks, not consensus of our own: every decision is one
// conditional UPDATE that the database serialises.

import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { ensureClusterSchema } from '../store/cluster-schema.js';
import type { FenceClaim } from '../store/fence.js';

export type LossReason = 'expired' | 'taken' | 'released' | 'stopped';

export interface LeaseManagerOptions {
  hubId: string;
  /** P, fixed when the cluster's database is created. */
  partitions: number;
  /** How long a lease lasts without renewal (default 6000 ms). */
  leaseMs?: number;
  /** Renewal period (default leaseMs / 3). */
  renewMs?: number;
  /** The local deadline falls this long before the lease's nominal end (default leaseMs / 6). */
  marginMs?: number;
  /** A partition became ours with this token: load its heads from the database, subscribe. Must
   *  not throw; the partition counts as held once it resolves. */
  onGain: (partition: number, token: bigint) => void | Promise<void>;
  /** A partition is no longer ours: drop its live state, stop receipts for it, unsubscribe. Called
   *  synchronously the moment the hub learns or decides it. */
  onLose: (partition: number, reason: LossReason) => void;
  /** About to give partitions back (above fair share, or at stop): stop taking their uplinks and
   *  commit what was gathered, so the next owner starts from every accepted segment. */
  beforeRelease?: (partitions: number[]) => Promise<void>;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Monotonic milliseconds (tests may replace it). */
  now?: () => number;
}

interface Held {
  token: bigint;
  /** Monotonic ms after which the hub must not acknowledge for this partition. */
  deadline: number;
  /** onGain has resolved: the partition's state is loaded and it may be served. */
  ready: boolean;
  /** Lost before onGain resolved: onLose runs once it has, with this reason. */
  lostWhileLoading?: LossReason;
}

/** Partitions a take loads at once (the hub reads them in one batch and subscribes to them in one
 *  SUBSCRIBE); a renewal falls due between two such steps. */
const LOADS_AT_ONCE = 32;

export class LeaseManager {
  readonly hubId: string;
  readonly partitions: number;
  readonly leaseMs: number;
  readonly renewMs: number;
  readonly marginMs: number;
  private readonly held = new Map<number, Held>();
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private running = false;
  private liveHubs = 1;
  private readonly now: () => number;
  private readonly log: NonNullable<LeaseManagerOptions['log']>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: LeaseManagerOptions,
  ) {
    this.hubId = options.hubId;
    this.partitions = options.partitions;
    this.leaseMs = options.leaseMs ?? 6000;
    this.renewMs = options.renewMs ?? Math.floor(this.leaseMs / 3);
    this.marginMs = options.marginMs ?? Math.floor(this.leaseMs / 6);
    if (this.renewMs + this.marginMs >= this.leaseMs)
      throw new RangeError('renewMs + marginMs must be shorter than leaseMs, or leases lapse between renewals');
    this.now = options.now ?? (() => performance.now());
    this.log = options.log ?? (() => {});
  }

  /** Creates the tables if needed, takes a first share and keeps ticking. */
  async start(): Promise<void> {
    await ensureClusterSchema(this.pool, this.partitions);
    this.running = true;
    await this.tick();
  }

  /** Partitions held now (past their local deadline counts as not held). */
  owned(): Map<number, bigint> {
    const now = this.now();
    const out = new Map<number, bigint>();
    for (const [p, h] of this.held) if (h.ready && h.deadline > now) out.set(p, h.token);
    return out;
  }

  /** True while this hub may acknowledge for the partition. */
  holds(partition: number): boolean {
    const h = this.held.get(partition);
    return h !== undefined && h.ready && h.deadline > this.now();
  }

  /** The claim a commit writing these partitions carries to the fence, or undefined when one is
   *  not held (then the commit must not run). */
  claim(partitions: Iterable<number>): FenceClaim | undefined {
    const now = this.now();
    const leases: { partition: number; token: bigint }[] = [];
    for (const p of new Set(partitions)) {
      const h = this.held.get(p);
      if (!h || !h.ready || h.deadline <= now) return undefined;
      leases.push({ partition: p, token: h.token });
    }
    return { hubId: this.hubId, leases };
  }

  /** How many hubs the last tick saw alive (this one included). */
  get live(): number {
    return this.liveHubs;
  }

  /** Stops ticking without giving anything back: what a paused or killed process looks like to
   *  the others (tests use it). The local deadlines still apply to holds() and claim(). */
  halt(): void {
    this.running = false;
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
  }

  /** Gives every lease back (after beforeRelease) and leaves the hubs table. */
  async stop(): Promise<void> {
    const wasRunning = this.running;
    this.halt();
    await this.ticking;
    if (!wasRunning) return;
    const parts = [...this.held.keys()];
    try {
      if (parts.length > 0) await this.release(parts, 'stopped');
      await this.pool.query('DELETE FROM hubs WHERE id = $1', [this.hubId]);
    } catch (err) {
      // The leases then expire by themselves; the survivors take them after leaseMs.
      this.log('warn', `lease release at stop failed: ${(err as Error).message}`);
      for (const p of parts) this.lose(p, 'stopped');
    }
  }

  /** One round: heartbeat, renew, rebalance. Never throws; ticks never overlap. */
  tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.round()
      .catch((err: unknown) => this.log('warn', `lease tick failed: ${(err as Error).message}`))
      .finally(() => {
        this.ticking = undefined;
        this.armWatchdog();
        if (this.running) {
          clearTimeout(this.timer);
          this.timer = setTimeout(() => void this.tick(), this.renewMs);
          this.timer.unref?.();
        }
      });
    return this.ticking;
  }

  private async round(): Promise<void> {
    const started = this.now();
    const lease = `${this.leaseMs} milliseconds`;
    await this.pool.query(
      `INSERT INTO hubs (id, last_seen) VALUES ($1, now())
       ON CONFLICT (id) DO UPDATE SET last_seen = EXCLUDED.last_seen`,
      [this.hubId],
    );
    await this.renew(started, lease);

    const live = await this.pool.query<{ n: number }>(
      'SELECT count(*)::int4 AS n FROM hubs WHERE last_seen > now() - $1::interval',
      [lease],
    );
    this.liveHubs = Math.max(1, live.rows[0]!.n);
    const share = Math.ceil(this.partitions / this.liveHubs);
    if (!this.running) return;
    if (this.held.size < share) await this.take(share - this.held.size, started, lease);
    else if (this.held.size > share) {
      // Give back the highest-numbered ones; which ones does not matter, only that it is stable.
      const extra = [...this.held.keys()].sort((a, b) => b - a).slice(0, this.held.size - share);
      await this.release(extra, 'released');
    }
  }

  private async renew(started: number, lease: string): Promise<void> {
    if (this.held.size === 0) return;
    const parts = [...this.held.keys()];
    const tokens = parts.map((p) => this.held.get(p)!.token.toString());
    const { rows } = await this.pool.query<{ partition: number }>(
      `UPDATE partition_leases l SET expires_at = now() + $4::interval
         FROM unnest($1::int4[], $2::int8[]) AS h(p, t)
        WHERE l.partition = h.p AND l.token = h.t AND l.owner_hub = $3 AND l.expires_at > now()
        RETURNING l.partition`,
      [parts, tokens, this.hubId, lease],
    );
    const renewed = new Set(rows.map((r) => r.partition));
    for (const p of parts) {
      const h = this.held.get(p);
      if (!h) continue;
      if (renewed.has(p)) h.deadline = started + this.leaseMs - this.marginMs;
      else this.lose(p, 'taken');
    }
  }

  private async take(count: number, started: number, lease: string): Promise<void> {
    // A free row, an expired one, or one still in our name that we no longer hold locally (we
    // passed our own deadline, or restarted under the same id): each take raises the token, so
    // whatever an earlier holder still has in flight is fenced off. SKIP LOCKED: a row a commit
    // holds FOR SHARE right now is left for a later tick instead of waiting on it.
    const mine = [...this.held.keys()];
    const { rows } = await this.pool.query<{ partition: number; token: string }>(
      `UPDATE partition_leases SET owner_hub = $1, token = token + 1, expires_at = now() + $2::interval
        WHERE partition IN (
          SELECT partition FROM partition_leases
           WHERE (owner_hub IS NULL OR expires_at IS NULL OR expires_at < now() OR owner_hub = $1)
             AND NOT (partition = ANY($3::int4[]))
           ORDER BY partition
           LIMIT $4
             FOR UPDATE SKIP LOCKED)
        RETURNING partition, token`,
      [this.hubId, lease, mine, count],
    );
    // Every row taken is held at once, so the renewals below cover the ones still waiting to load.
    const gained: [number, Held][] = rows
      .sort((a, b) => a.partition - b.partition)
      .map((r) => {
        const held: Held = { token: BigInt(r.token), deadline: started + this.leaseMs - this.marginMs, ready: false };
        this.held.set(r.partition, held);
        this.log('info', `partition ${r.partition} taken (token ${held.token})`);
        return [r.partition, held];
      });
    // Loading a partition is a few queries and a subscription. A hub taking a whole fleet's
    // partitions at once (alone at start, or the last survivor) loads them in parallel, and renews
    // whenever a renewal falls due: loaded one after the other, 256 of them outlasted a 2 s lease
    // under load and expired as they became ready, to be taken again and expire again.
    let renewedAt = started;
    for (let i = 0; i < gained.length; i += LOADS_AT_ONCE) {
      if (this.now() - renewedAt >= this.renewMs) {
        renewedAt = this.now();
        await this.renew(renewedAt, lease);
      }
      await Promise.all(gained.slice(i, i + LOADS_AT_ONCE).map(([p, held]) => this.load(p, held)));
    }
  }

  private async load(partition: number, held: Held): Promise<void> {
    if (this.held.get(partition) !== held) return; // lost before its turn came
    try {
      await this.options.onGain(partition, held.token);
    } catch (err) {
      // A partition we cannot load is given back rather than held without being served; marked
      // lost, what onGain did is undone below.
      this.log('error', `partition ${partition} could not be loaded: ${(err as Error).message}`);
      if (this.held.get(partition) === held) {
        await this.release([partition], 'released').catch((again: unknown) =>
          this.log('warn', `partition ${partition} not given back: ${(again as Error).message}`),
        );
        this.lose(partition, 'released'); // in case the release failed before it marked it lost
      }
    }
    if (held.lostWhileLoading) this.options.onLose(partition, held.lostWhileLoading);
    else held.ready = true;
  }

  private async release(parts: number[], reason: LossReason): Promise<void> {
    if (parts.length === 0) return;
    await this.options.beforeRelease?.(parts);
    // Stop acknowledging before the row is freed: another hub may take it the moment it is.
    const claim = parts.map((p) => ({ p, h: this.held.get(p) })).filter((x) => x.h !== undefined);
    for (const { p } of claim) this.lose(p, reason);
    await this.pool.query(
      `UPDATE partition_leases l SET owner_hub = NULL, expires_at = NULL
         FROM unnest($1::int4[], $2::int8[]) AS h(p, t)
        WHERE l.partition = h.p AND l.token = h.t AND l.owner_hub = $3`,
      [claim.map((x) => x.p), claim.map((x) => x.h!.token.toString()), this.hubId],
    );
  }

  private lose(partition: number, reason: LossReason): void {
    const held = this.held.get(partition);
    if (!held) return;
    this.held.delete(partition);
    this.log(
      reason === 'released' || reason === 'stopped' ? 'info' : 'warn',
      `partition ${partition} lost (${reason})`,
    );
    // Still loading: onGain has not finished its subscription, so the undoing waits for it (the
    // partition was never served: holds() wants it ready).
    if (held.ready) this.options.onLose(partition, reason);
    else held.lostWhileLoading = reason;
  }

  /** Drops partitions whose local deadline passed, even while the database cannot be reached. */
  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    if (!this.running || this.held.size === 0) return;
    const now = this.now();
    let next = Infinity;
    for (const [p, h] of this.held) {
      if (h.deadline <= now) this.lose(p, 'expired');
      else next = Math.min(next, h.deadline);
    }
    if (next === Infinity) return;
    this.watchdog = setTimeout(() => this.armWatchdog(), Math.max(1, next - now));
    this.watchdog.unref?.();
  }
}
