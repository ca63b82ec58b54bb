// Opens the ledger the config names. The data directory keeps the hub's keys and hub.json either
// way; with --store postgres://... the ledger itself (devices, channels, vouchers, epochs,
// webhooks) is in PostgreSQL, and the data directory's SQLite file records where (meta "ledger",
// the URL without its password), so that nothing writes a stale SQLite ledger behind the hub's
// back: neither a management command run while the hub is stopped, nor a hub started without
// --store. The PostgreSQL database records the hub key and network it belongs to, as SQLite does.

import { join } from 'node:path';
import type { HubConfig } from '../base/config.js';
import { openPostgresStore, type PostgresStoreOptions } from './postgres/store.js';
import { FILES, openStore, type HubIdentity } from './datadir.js';
import { openSqliteSync } from './sqlite-store.js';
import type { HubStore } from './types.js';

/** Where the data directory says its ledger is: undefined = its own SQLite file. */
export function ledgerLocation(dataDir: string): string | undefined {
  const db = openSqliteSync(join(dataDir, FILES.db));
  try {
    return db.getMeta('ledger');
  } finally {
    db.close();
  }
}

/** Thrown when the ledger asked for is not the one this data directory's hub writes to. */
export class LedgerMismatchError extends Error {}

/** `postgres`: options of the PostgreSQL store (a cluster member's fence, run in every commit). */
export async function openLedger(
  config: HubConfig,
  identity: HubIdentity,
  postgres: Pick<PostgresStoreOptions, 'beforeCommit'> = {},
): Promise<HubStore> {
  const recorded = ledgerLocation(config.dataDir);
  if (config.store.kind === 'sqlite') {
    if (recorded !== undefined)
      throw new LedgerMismatchError(
        `the ledger of ${config.dataDir} is in PostgreSQL (${recorded}): start the hub with --store and that URL`,
      );
    return openStore(config.dataDir, config.sqliteSynchronous);
  }
  const { url, password, display } = config.store;
  if (recorded === undefined) {
    // A data dir that already has a SQLite ledger with devices would be abandoned silently.
    const local = openSqliteSync(join(config.dataDir, FILES.db));
    try {
      if (local.listDevices().length > 0)
        throw new LedgerMismatchError(
          `${config.dataDir} holds a SQLite ledger with devices; moving it to PostgreSQL is not automatic (use a fresh data dir)`,
        );
    } finally {
      local.close();
    }
  }
  const store = await openPostgresStore(url, { ...postgres, ...(password !== undefined ? { password } : {}) });
  try {
    await claimDatabase(store, identity, display);
  } catch (err) {
    await store.close();
    throw err;
  }
  const local = openSqliteSync(join(config.dataDir, FILES.db));
  try {
    local.setMeta('ledger', display);
  } finally {
    local.close();
  }
  return store;
}

/** A database belongs to one hub key and network: a second hub key would sign receipts and epochs
 *  for channels opened by another. */
async function claimDatabase(store: HubStore, identity: HubIdentity, display: string): Promise<void> {
  const key = await store.getMeta('hubPublicKey');
  if (key === undefined) await store.setMeta('hubPublicKey', identity.publicKeyHex);
  else if (key !== identity.publicKeyHex)
    throw new LedgerMismatchError(`the database ${display} belongs to hub ${key}, not to this data dir's hub`);
  const network = await store.getMeta('network');
  if (network === undefined) await store.setMeta('network', identity.network);
  else if (network !== identity.network)
    throw new LedgerMismatchError(`the database ${display} belongs to network ${network}, not ${identity.network}`);
}
