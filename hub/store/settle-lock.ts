// One settlement chain for a cluster [P-8]: every hub may close epochs, one at a time. The epoch
// transaction first takes a transaction-scoped advisory lock; a hub that does not get it skips
// this round (another hub is settling, and will cover every partition: settlement reads committed
// heads from the database, not a hub's live view). The lock ends with the transaction, so a hub
// that dies mid-epoch leaves nothing to clean up. The epoch number's primary key stays the last
// guard against a fork: two epochs with the same number cannot both commit.

import type { Queryable } from './cluster-schema.js';

/** The lock's key: one per database, so one chain per cluster. */
export const SETTLEMENT_LOCK_KEY = "hashtext('tally.settlement')";

/** Inside the epoch transaction: true when this hub may settle now. Never waits. */
export async function trySettlementLock(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(${SETTLEMENT_LOCK_KEY}) AS ok`);
  return rows[0]!.ok;
}
