import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../hub/store/sqlite-store.js';
import { runStoreContract } from './store.contract.js';
import { runOutboxContract } from './outbox.contract.js';

runStoreContract('SQLite file (WAL, synchronous FULL)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-hub-store-'));
  const file = join(dir, 'hub.db');
  return {
    store: openSqliteStore(file),
    reopen: async () => openSqliteStore(file),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});

runStoreContract('SQLite file (WAL, synchronous NORMAL)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-hub-store-'));
  const file = join(dir, 'hub.db');
  return {
    store: openSqliteStore(file, { synchronous: 'NORMAL' }),
    reopen: async () => openSqliteStore(file, { synchronous: 'NORMAL' }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});

runOutboxContract('SQLite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-hub-outbox-'));
  const file = join(dir, 'hub.db');
  return {
    store: openSqliteStore(file),
    reopen: async () => openSqliteStore(file),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});
