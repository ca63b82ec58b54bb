// The cluster's control plane and settlement lock on a real PostgreSQL: a change made on one hub
// reaches the others' listeners only once its transaction commits; a listener that loses its
// connection comes back and is told to reload; one hub at a time holds the settlement lock.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTROL_CHANNEL,
  ControlListener,
  notifyControl,
  ENROLLED_PER_NOTIFY,
  parseControl,
  type ControlChange,
} from '../../hub/store/control-notify.js';
import { trySettlementLock } from '../../hub/store/settle-lock.js';
import { startPostgres, type RunningPostgres } from '../../support/postgres.js';
import { describePostgres, testPool } from './helpers/postgres.js';

const DEV = 'ab'.repeat(32);
const CH = 'cd'.repeat(32);

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function inTx(pool: pg.Pool, body: (tx: pg.PoolClient) => Promise<void>, commit = true): Promise<void> {
  const tx = await pool.connect();
  try {
    await tx.query('BEGIN');
    await body(tx);
    await tx.query(commit ? 'COMMIT' : 'ROLLBACK');
  } finally {
    tx.release();
  }
}

describe('control payloads', () => {
  it('parse what a hub sends and nothing else', () => {
    const ok: ControlChange[] = [
      { kind: 'device', deviceKey: DEV, op: 'revoke' },
      { kind: 'channel', channelId: CH, deviceKey: DEV, op: 'topup' },
      { kind: 'devices', deviceKeys: [DEV, CH], op: 'enrol' },
      { kind: 'devices', deviceKeys: Array.from({ length: ENROLLED_PER_NOTIFY }, () => DEV), op: 'enrol' },
    ];
    // The largest batch fits PostgreSQL's 8,000-byte payload.
    expect(JSON.stringify(ok[3]).length).toBeLessThan(8000);
    for (const c of ok) expect(parseControl(JSON.stringify(c))).toEqual(c);
    for (const bad of [
      undefined,
      '',
      'not json',
      'null',
      '42',
      JSON.stringify({ kind: 'device', deviceKey: DEV, op: 'explode' }),
      JSON.stringify({ kind: 'device', deviceKey: 'AB'.repeat(32), op: 'revoke' }),
      JSON.stringify({ kind: 'device', deviceKey: DEV.slice(2), op: 'revoke' }),
      JSON.stringify({ kind: 'channel', deviceKey: DEV, op: 'topup' }),
      JSON.stringify({ kind: 'epoch', deviceKey: DEV, op: 'enrol' }),
      JSON.stringify({ kind: 'devices', deviceKeys: [], op: 'enrol' }),
      JSON.stringify({ kind: 'devices', deviceKeys: [DEV, 'xyz'], op: 'enrol' }),
      JSON.stringify({ kind: 'devices', deviceKeys: [DEV], op: 'revoke' }),
      JSON.stringify({ kind: 'devices', deviceKeys: DEV, op: 'enrol' }),
      JSON.stringify({
        kind: 'devices',
        deviceKeys: Array.from({ length: ENROLLED_PER_NOTIFY + 1 }, () => DEV),
        op: 'enrol',
      }),
    ])
      expect(parseControl(bad), String(bad)).toBeUndefined();
  });
});

describePostgres('test/hub/cluster-control.test.ts', 'control plane and settlement lock', (bin) => {
  let server: RunningPostgres;
  let url: string;
  let pool: pg.Pool;
  beforeAll(async () => {
    server = await startPostgres({ binDir: bin });
    url = await server.createDatabase();
    pool = testPool(url, 6);
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  it('delivers a change once its transaction commits, never one rolled back', async () => {
    const seen: ControlChange[] = [];
    const invalid: string[] = [];
    const resyncs: number[] = [];
    const listener = new ControlListener({
      connectionString: url,
      onChange: (c) => void seen.push(c),
      onResync: () => void resyncs.push(1),
      onInvalid: (p) => void invalid.push(p),
    });
    await listener.start();
    try {
      const revoke: ControlChange = { kind: 'device', deviceKey: DEV, op: 'revoke' };
      const topup: ControlChange = { kind: 'channel', channelId: CH, deviceKey: DEV, op: 'topup' };
      await inTx(pool, (tx) => notifyControl(tx, revoke), false);
      await inTx(pool, async (tx) => {
        await notifyControl(tx, topup);
        // Not yet: the notification waits for the commit.
        await new Promise((r) => setTimeout(r, 200));
        expect(seen).toEqual([]);
      });
      await pool.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, '{"kind":"device","op":"rm -rf"}']);
      await inTx(pool, (tx) => notifyControl(tx, revoke));
      await until('two changes', () => seen.length === 2);
      expect(seen).toEqual([topup, revoke]);
      expect(invalid).toEqual(['{"kind":"device","op":"rm -rf"}']);
      expect(resyncs).toEqual([]);
    } finally {
      await listener.stop();
    }
  });

  it('reconnects after losing its connection and asks for a reload', async () => {
    const seen: ControlChange[] = [];
    let resyncs = 0;
    const listener = new ControlListener({
      connectionString: url,
      onChange: (c) => void seen.push(c),
      onResync: () => void resyncs++,
      maxBackoffMs: 200,
    });
    await listener.start();
    try {
      const killed = await pool.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE query = $1', [
        `LISTEN ${CONTROL_CHANNEL}`,
      ]);
      expect(killed.rows.map((r) => r.ok)).toEqual([true]);
      await until('a resync', () => resyncs === 1);
      const change: ControlChange = { kind: 'device', deviceKey: DEV, op: 'enrol' };
      await inTx(pool, (tx) => notifyControl(tx, change));
      await until('the change after reconnecting', () => seen.length === 1);
      expect(seen).toEqual([change]);
    } finally {
      await listener.stop();
    }
  });

  it('lets one epoch transaction at a time hold the settlement lock', async () => {
    const first = await pool.connect();
    const second = await pool.connect();
    try {
      await first.query('BEGIN');
      await second.query('BEGIN');
      expect(await trySettlementLock(first)).toBe(true);
      expect(await trySettlementLock(second)).toBe(false); // another hub is settling: skip
      await first.query('COMMIT'); // the lock ends with the transaction
      await second.query('ROLLBACK');
      await second.query('BEGIN');
      expect(await trySettlementLock(second)).toBe(true);
      await second.query('COMMIT');
    } finally {
      first.release();
      second.release();
    }
  });
});
