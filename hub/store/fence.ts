// Fencing [DESIGN: ownership]: a group commit on PostgreSQL first checks, inside its own
// transaction, that the hub still holds the lease of every partition it writes, with the token it
// was given when it took it. The check row-locks those lease rows FOR SHARE, so a takeover (an
// UPDATE of the same rows) waits until the commit ends, and a commit that starts after a takeover
// sees the raised token and aborts. Either way, two hubs that both believe they own a device never
// both commit a head move for it: the one holding the older token writes nothing and acknowledges
// nothing.

import type { Queryable } from './cluster-schema.js';

/** What a hub claims to hold when it commits: its id and, per partition written, its token. */
export interface FenceClaim {
  hubId: string;
  leases: readonly { partition: number; token: bigint }[];
}

export class LeaseLostError extends Error {
  readonly code = 'LEASE_LOST';
  constructor(readonly partitions: number[]) {
    super(`lease lost for partition(s) ${partitions.join(', ')}: another hub owns them or the lease expired`);
  }
}

/**
 * Run as the first statement of a commit transaction. Throws LeaseLostError (the caller rolls the
 * whole transaction back) unless every claimed lease is still this hub's, with the same token and
 * not expired by the database's clock.
 */
export async function checkFence(tx: Queryable, claim: FenceClaim): Promise<void> {
  if (claim.leases.length === 0) return;
  const parts = claim.leases.map((l) => l.partition);
  const tokens = claim.leases.map((l) => l.token.toString());
  // clock_timestamp(), not now(): now() is the transaction's start, which may be older than this
  // statement if the transaction waited.
  const { rows } = await tx.query<{ partition: number }>(
    `SELECT l.partition
       FROM partition_leases l
       JOIN unnest($1::int4[], $2::int8[]) AS c(p, t) ON l.partition = c.p
      WHERE l.owner_hub = $3 AND l.token = c.t AND l.expires_at > clock_timestamp()
      ORDER BY l.partition
        FOR SHARE OF l`,
    [parts, tokens, claim.hubId],
  );
  if (rows.length === parts.length) return;
  const held = new Set(rows.map((r) => r.partition));
  throw new LeaseLostError(parts.filter((p) => !held.has(p)));
}
