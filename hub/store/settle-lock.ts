// One settlement chain for a cluster [P-8]: every hub may close epochs, one at a time. The epoch
// transaction first takes a transaction-scoped advisory lock; a hub that does not get it skips
// this round (another hub is settling, and will cover every partition: settlement reads committed
// heads from the database, not a hub's live view). The lock ends with the transaction, so a hub
// that dies mid-epoch leaves nothing to clean up. The epoch number's primary key stays the last
// guard against a fork: two epochs with the same number cannot both commit.

import type pg from 'pg';
import type { Queryable } from './cluster-schema.js';

/** The lock's key: one per database, so one chain per cluster. */
export const SETTLEMENT_LOCK_KEY = "hashtext('tally.settlement')";

/** Inside the epoch transaction: true when this hub may settle now. Never waits. */
export async function trySettlementLock(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(${SETTLEMENT_LOCK_KEY}) AS ok`);
  return rows[0]!.ok;
}

/**
 * Session-level form, for a settlement whose reads (the last epoch, the heads) and its write must
 * all happen under the lock: held on one connection from before the reads to after the commit.
 * `wait` false: undefined at once when another hub holds it. A hub that dies frees it with its
 * connection.
 */
export async function withSettlementLock<T>(
  pool: pg.Pool,
  wait: boolean,
  task: () => Promise<T>,
): Promise<T | undefined> {
  const client = await pool.connect();
  try {
    if (wait) await client.query(`SELECT pg_advisory_lock(${SETTLEMENT_LOCK_KEY})`);
    else {
      const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${SETTLEMENT_LOCK_KEY}) AS ok`);
      if (!rows[0]!.ok) return undefined;
    }
    try {
      return await task();
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${SETTLEMENT_LOCK_KEY})`);
    }
  } finally {
    client.release();
  }
}
