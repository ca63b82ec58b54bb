// The tables a cluster of hubs shares on PostgreSQL to split the fleet: `hubs` (who is alive, by
// the database's clock) and `partition_leases` (who owns each partition, until when, and the
// fencing token that every takeover raises). The partition count is fixed when the cluster's
// database is created (cluster_meta.partitions): devices map to partitions by their key, so a
// different count would move devices between owners.
//
// Idempotent DDL: every hub runs it at start. When the PostgreSQL store's versioned migrations
// land, these statements become one migration there.

import type pg from 'pg';

export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

export const CLUSTER_DDL = `
  CREATE TABLE IF NOT EXISTS cluster_meta (
    key text PRIMARY KEY,
    value text NOT NULL
  );
  CREATE TABLE IF NOT EXISTS hubs (
    id text PRIMARY KEY,
    last_seen timestamptz NOT NULL
  );
  -- owner_hub is NULL when free. token only grows: each take raises it by one, and a commit that
  -- holds an older token is refused (hub/store/fence.ts).
  CREATE TABLE IF NOT EXISTS partition_leases (
    partition int4 PRIMARY KEY CHECK (partition >= 0),
    owner_hub text,
    token int8 NOT NULL DEFAULT 0,
    expires_at timestamptz
  );
`;

export class ClusterConfigError extends Error {
  readonly code = 'CLUSTER_PARTITIONS_MISMATCH';
}

/**
 * Creates the cluster tables if missing and fixes the partition count on first use. Returns the
 * cluster's partition count; throws ClusterConfigError when the database was created with another.
 * Safe to run from several hubs at once (one transaction under an advisory lock).
 */
export async function ensureClusterSchema(pool: pg.Pool, partitions: number): Promise<number> {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 65_536)
    throw new RangeError(`partitions must be an integer in 1..65536, got ${partitions}`);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Two hubs starting together would race on CREATE TABLE IF NOT EXISTS (it is not atomic).
    await client.query("SELECT pg_advisory_xact_lock(hashtext('tally.cluster.schema'))");
    await client.query(CLUSTER_DDL);
    await client.query("INSERT INTO cluster_meta (key, value) VALUES ('partitions', $1) ON CONFLICT (key) DO NOTHING", [
      String(partitions),
    ]);
    const { rows } = await client.query<{ value: string }>("SELECT value FROM cluster_meta WHERE key = 'partitions'");
    const fixed = Number(rows[0]!.value);
    if (fixed !== partitions) {
      await client.query('ROLLBACK');
      throw new ClusterConfigError(
        `this cluster's database has ${fixed} partitions; --partitions ${partitions} would move devices between owners`,
      );
    }
    await client.query(
      'INSERT INTO partition_leases (partition) SELECT generate_series(0, $1::int4 - 1) ON CONFLICT DO NOTHING',
      [partitions],
    );
    await client.query('COMMIT');
    return fixed;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
