// Tests that need a PostgreSQL server start their own (support/postgres.ts), one per test file.
// Without the binaries the suite says plainly which file did not run; under CI=true a missing
// server fails, like the Mosquitto tests.
import pg from 'pg';
import { describe, it } from 'vitest';
import { findPostgres } from '../../../support/postgres.js';

export const postgresBin = findPostgres();

/** describe() when PostgreSQL is installed; otherwise a visible NOT RUN (or a failure in CI). */
export function describePostgres(file: string, title: string, body: (bin: string) => void): void {
  if (postgresBin) {
    describe(title, () => body(postgresBin));
    return;
  }
  describe(title, () => {
    if (process.env.CI) {
      it('needs PostgreSQL in CI', () => {
        throw new Error('PostgreSQL not found: install postgresql or set TALLY_PG_BIN');
      });
    } else {
      console.warn(`${file} NOT RUN: no PostgreSQL binaries (install postgresql or set TALLY_PG_BIN)`);
      it.skip('NOT RUN: no PostgreSQL binaries found (install postgresql or set TALLY_PG_BIN)', () => {});
    }
  });
}

/**
 * A pool for a test's own queries. pool.end() resolves before its clients' sockets have closed, so
 * a server stopped right after can still reach an idle client with "terminating connection"
 * (57P01); a pool with no 'error' listener turns that into an uncaught exception that fails the
 * run after every test passed. The hub's own pools carry the same listener.
 */
export function testPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on('error', () => undefined);
  return pool;
}
