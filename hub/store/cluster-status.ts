// Who owns what in a cluster, read from the database by its own clock: the view an operator (or
// the HTTP API, or the simulator timing a failover) needs, whichever hub is asked.

import type { Queryable } from './cluster-schema.js';

export interface ClusterStatus {
  partitions: number;
  hubs: { id: string; live: boolean; sinceSeenMs: number; partitions: number[] }[];
  /** No owner: never taken, or given back. */
  free: number[];
  /** An owner whose lease ran out and nobody took it yet (a dead hub's, until the next tick). */
  expired: number[];
  /** The highest fencing token: how many times ownership has moved, summed over partitions. */
  maxToken: bigint;
}

/** A hub is live while its heartbeat is younger than one lease. */
export async function clusterStatus(q: Queryable, leaseMs: number): Promise<ClusterStatus> {
  const hubs = await q.query<{ id: string; since_ms: string; live: boolean }>(
    `SELECT id, (extract(epoch FROM now() - last_seen) * 1000)::int8 AS since_ms,
            last_seen > now() - $1::interval AS live
       FROM hubs ORDER BY id`,
    [`${leaseMs} milliseconds`],
  );
  const leases = await q.query<{ partition: number; owner_hub: string | null; token: string; expired: boolean }>(
    `SELECT partition, owner_hub, token, coalesce(expires_at < now(), false) AS expired
       FROM partition_leases ORDER BY partition`,
  );
  const byHub = new Map(
    hubs.rows.map((h) => [
      h.id,
      { id: h.id, live: h.live, sinceSeenMs: Number(h.since_ms), partitions: [] as number[] },
    ]),
  );
  const free: number[] = [];
  const expired: number[] = [];
  let maxToken = 0n;
  for (const l of leases.rows) {
    const token = BigInt(l.token);
    if (token > maxToken) maxToken = token;
    if (l.owner_hub === null) free.push(l.partition);
    else if (l.expired) expired.push(l.partition);
    else {
      let h = byHub.get(l.owner_hub);
      if (!h) byHub.set(l.owner_hub, (h = { id: l.owner_hub, live: false, sinceSeenMs: -1, partitions: [] }));
      h.partitions.push(l.partition);
    }
  }
  return { partitions: leases.rows.length, hubs: [...byHub.values()], free, expired, maxToken };
}
