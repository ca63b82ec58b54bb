import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../hub/store/sqlite-store.js';
import { runStoreContract } from './store.contract.js';
import { runOutboxContract } from './outbox.contract.js';

runStoreContract('SQLite file (WAL, synchronous FULL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-hub-store-'));
  const file = join(dir, 'hub.db');
  return {
    store: openSqliteStore(file),
    reopen: () => openSqliteStore(file),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});

runStoreContract('SQLite file (WAL, synchronous NORMAL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-hub-store-'));
  const file = join(dir, 'hub.db');
  return {
    store: openSqliteStore(file, { synchronous: 'NORMAL' }),
    reopen: () => openSqliteStore(file, { synchronous: 'NORMAL' }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});

runOutboxContract('SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tally-hub-outbox-'));
  const file = join(dir, 'hub.db');
  return {
    store: openSqliteStore(file),
    reopen: () => openSqliteStore(file),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
});
