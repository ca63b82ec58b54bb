// The store contract against PostgreSQL: one throwaway server for this file, a fresh database
// per test. Also what only PostgreSQL has: versioned migrations run once, and the hook a cluster
// uses to check its leases inside the commit transaction.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgresStore } from '../../hub/store/postgres/store.js';
import { PG_MIGRATIONS } from '../../hub/store/postgres/schema.js';
import { startPostgres, type RunningPostgres } from '../../support/postgres.js';
import { describePostgres } from './helpers/postgres.js';
import { runStoreContract } from './store.contract.js';
import { runOutboxContract } from './outbox.contract.js';

describePostgres('test/hub/store-postgres.test.ts', 'PostgreSQL store', (bin) => {
  let server: RunningPostgres;
  beforeAll(async () => {
    server = await startPostgres({ binDir: bin });
  });
  afterAll(async () => {
    await server?.stop();
  });

  runStoreContract('PostgreSQL', async () => {
    const url = await server.createDatabase();
    return { store: await openPostgresStore(url), reopen: () => openPostgresStore(url), cleanup: () => {} };
  });

  runOutboxContract('PostgreSQL', async () => {
    const url = await server.createDatabase();
    return { store: await openPostgresStore(url), reopen: () => openPostgresStore(url), cleanup: () => {} };
  });

  it('records its migrations and runs each once, also when opened again', async () => {
    const url = await server.createDatabase();
    await (await openPostgresStore(url)).close();
    await (await openPostgresStore(url)).close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((_, i) => i + 1));
    } finally {
      await client.end();
    }
  });

  it('claims around deliveries another hub holds locked, without waiting for it (SKIP LOCKED)', async () => {
    const url = await server.createDatabase();
    const store = await openPostgresStore(url);
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await store.outbox.addSubscription({ url: 'http://127.0.0.1:1/h', events: ['*'], secret: 's', createdAtMs: 1n });
      const events = [1, 2, 3, 4].map((i) => ({
        id: `evt_${i}`,
        type: 'channel.closed',
        payload: '{}',
        createdAtMs: BigInt(i),
      }));
      await store.commit({
        segments: [],
        heads: [],
        rejections: [],
        equivocations: [],
        equivocatedChannels: [],
        events,
      });
      // Another hub's claim, mid-transaction: it holds the two oldest deliveries.
      await other.query('BEGIN');
      await other.query(`SELECT id FROM webhook_deliveries WHERE event_id IN ('evt_1', 'evt_2') FOR UPDATE`);
      const claim = { nowMs: 100n, limit: 10, perSubscription: 10, busy: new Map(), leaseUntilMs: 1_000n };
      const mine = await store.outbox.claimDue(claim);
      expect(mine.map((j) => j.eventId)).toEqual(['evt_3', 'evt_4']);
      await other.query('ROLLBACK');
      expect((await store.outbox.claimDue(claim)).map((j) => j.eventId)).toEqual(['evt_1', 'evt_2']);
    } finally {
      await other.end();
      await store.close();
    }
  });

  it('aborts the whole commit when the hook run inside its transaction refuses', async () => {
    const url = await server.createDatabase();
    let allow = false;
    const store = await openPostgresStore(url, {
      beforeCommit: async (tx) => {
        await tx.query('SELECT 1');
        if (!allow) throw new Error('lease lost');
      },
    });
    try {
      const batch = {
        segments: [],
        heads: [],
        equivocations: [],
        equivocatedChannels: [],
        rejections: [
          {
            atMs: 1n,
            stage: 'decode',
            reason: 'DECODE_EMPTY',
            deviceKey: new Uint8Array(randomBytes(32)),
            channelId: null,
            seq: null,
            vouchers: 1,
            detail: null,
          },
        ],
      };
      await expect(store.commit(batch)).rejects.toThrow('lease lost');
      expect(await store.rejectionCounts()).toEqual([]);
      allow = true;
      await store.commit(batch);
      expect((await store.rejectionCounts())[0]!.events).toBe(1n);
    } finally {
      await store.close();
    }
  });
});
