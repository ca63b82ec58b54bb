// The outbox contract on real SQLite files: one file per device (the CLI) and one shared file for
// many devices (the fleet simulator).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openOutboxDatabase, openSqliteOutbox } from '../../agent/outbox/sqlite.js';
import { outboxContract, type OutboxHarness } from './outbox.contract.js';

function fileHarness(shared: boolean): OutboxHarness {
  const dir = mkdtempSync(join(tmpdir(), 'tally-outbox-'));
  const open: Database.Database[] = [];
  const pathFor = (device: string) => join(dir, shared ? 'shared.db' : `${device.slice(0, 16)}.db`);
  let sharedDb: Database.Database | undefined;
  const dbFor = (device: string, fresh: boolean): Database.Database => {
    if (shared && sharedDb !== undefined && !fresh) return sharedDb;
    const db = openOutboxDatabase(pathFor(device));
    open.push(db);
    if (shared) sharedDb = db;
    return db;
  };
  return {
    open: (device) => openSqliteOutbox(dbFor(device, false), device),
    reopen(device) {
      // A restart: close every handle on the file, then open it again.
      for (const db of open.splice(0)) db.close();
      sharedDb = undefined;
      return openSqliteOutbox(dbFor(device, true), device);
    },
    cleanup() {
      for (const db of open.splice(0)) if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

outboxContract('SQLite, one file per device', () => fileHarness(false));
outboxContract('SQLite, one file shared by many devices', () => fileHarness(true));
