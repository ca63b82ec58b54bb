// The throwaway PostgreSQL server the store tests run on: it starts (as the postgres user when we
// are root), hands out separate databases, and leaves nothing behind.
import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPostgres, type RunningPostgres } from '../../support/postgres.js';
import { describePostgres } from './helpers/postgres.js';

describePostgres('test/hub/postgres-harness.test.ts', 'throwaway PostgreSQL server', (bin) => {
  let server: RunningPostgres;
  beforeAll(async () => {
    server = await startPostgres({ binDir: bin });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('creates databases that do not see each other', async () => {
    const [a, b] = [await server.createDatabase(), await server.createDatabase()];
    expect(a).not.toBe(b);
    const ca = new pg.Client({ connectionString: a });
    const cb = new pg.Client({ connectionString: b });
    await ca.connect();
    await cb.connect();
    try {
      await ca.query('CREATE TABLE only_in_a (x int8)');
      const seen = await cb.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_in_a'");
      expect(seen.rows[0].n).toBe(0);
    } finally {
      await ca.end();
      await cb.end();
    }
  });

  it('stops and removes its directory', async () => {
    const other = await startPostgres({ binDir: bin });
    expect(existsSync(other.dir)).toBe(true);
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
    const client = new pg.Client({ connectionString: other.url() });
    await expect(client.connect()).rejects.toThrow();
  });
});
