// The webhook outbox's part of the store contract (OutboxStore, and the events HubStore writes
// with its own transactions), run against each implementation by store.test.ts.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutboxEvent } from '../../hub/store/outbox-types.js';
import type { CommitBatch, HubStore, NewChannel } from '../../hub/store/types.js';

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

function channel(deviceKey: Uint8Array): NewChannel {
  return {
    channelId: bytes(32),
    deviceKey,
    record: bytes(100),
    unit: 'Wh',
    pricePerUnit: 3n,
    capacity: 1_000n,
    openedAtMs: 1n,
    expiresAtMs: 0n,
  };
}

const event = (id: string, type = 'channel.exhausted', atMs = 100n): OutboxEvent => ({
  id,
  type,
  payload: JSON.stringify({ id, type }),
  createdAtMs: atMs,
});

const batch = (events: OutboxEvent[], extra: Partial<CommitBatch> = {}): CommitBatch => ({
  segments: [],
  heads: [],
  rejections: [],
  equivocations: [],
  equivocatedChannels: [],
  events,
  ...extra,
});

const SECRET = 'whsec_' + Buffer.alloc(32, 1).toString('base64');
const claim = (
  store: HubStore,
  nowMs: bigint,
  extra: { limit?: number; per?: number; busy?: Map<bigint, number> } = {},
) =>
  store.outbox.claimDue({
    nowMs,
    limit: extra.limit ?? 100,
    perSubscription: extra.per ?? 100,
    busy: extra.busy ?? new Map(),
    leaseUntilMs: nowMs + 1_000n,
  });

export function runOutboxContract(
  name: string,
  open: () => Promise<{ store: HubStore; reopen: () => Promise<HubStore>; cleanup: () => void }>,
) {
  describe(`OutboxStore contract: ${name}`, () => {
    let ctx: Awaited<ReturnType<typeof open>>;
    let store: HubStore;
    beforeEach(async () => {
      ctx = await open();
      store = ctx.store;
    });
    afterEach(async () => {
      await store.close();
      ctx.cleanup();
    });

    const subscribe = (events: string[], url = 'http://127.0.0.1:1/h') =>
      store.outbox.addSubscription({ url, events, secret: SECRET, createdAtMs: 1n });

    it('fans an event out to the subscriptions that want its type, once per id', async () => {
      const all = await subscribe(['*']);
      const some = await subscribe(['channel.exhausted', 'epoch.settled']);
      await subscribe(['device.revoked']);
      await store.commit(batch([event('evt_a'), event('evt_b', 'channel.low_capacity')]));
      await store.commit(batch([event('evt_a')])); // the same cause again: kept once
      const rows = await store.outbox.listDeliveries({ limit: 100 });
      const pairs = rows.map((d) => `${d.eventId}:${d.subscriptionId}`).sort();
      expect(pairs).toEqual([`evt_a:${all.id}`, `evt_a:${some.id}`, `evt_b:${all.id}`].sort());
      expect(rows.every((d) => d.state === 'pending' && d.attempts === 0)).toBe(true);
      expect(await store.outbox.countDeliveries()).toEqual({ pending: 3, delivered: 0, dead: 0 });
      // A subscription made later gets only later events.
      await subscribe(['channel.low_capacity']);
      expect(await store.outbox.countDeliveries()).toEqual({ pending: 3, delivered: 0, dead: 0 });
    });

    it('writes no event when the state change it belongs to fails', async () => {
      await subscribe(['*']);
      const dev = bytes(32);
      const ch = channel(dev);
      await store.enrol([{ deviceKey: dev, atMs: 1n, channel: ch }]);
      const head = { seq: 5n, hash: bytes(32), cumUnits: 5n, cumAmount: 15n };
      const guardFails = batch([event('evt_lost')], {
        heads: [{ channelId: ch.channelId, expectedSeq: 9n, head, state: 'open', receipt: null, atMs: 1n }],
      });
      await expect(store.commit(guardFails)).rejects.toThrow();
      expect(await store.outbox.listDeliveries({ limit: 10 })).toEqual([]);
    });

    it('writes the events of revoke, top-up, close and the epoch close with them', async () => {
      await subscribe(['*']);
      const dev = bytes(32);
      const ch = channel(dev);
      await store.enrol([{ deviceKey: dev, atMs: 1n, channel: ch }]);
      await store.setChannelCapacity(ch.channelId, 2_000n, 'open', 2n, [event('evt_top', 'channel.topped_up')]);
      await store.setChannelState(ch.channelId, 'closed', 3n, [event('evt_close', 'channel.closed')]);
      await store.revokeDevice(dev, 4n, [event('evt_rev', 'device.revoked')]);
      await store.closeEpoch({
        epoch: {
          epoch: 1n,
          closedAtMs: 5n,
          record: bytes(10),
          signature: bytes(64),
          root: bytes(32),
          entryCount: 0,
          totalDeltaAmount: 0n,
        },
        entries: [],
        settled: [],
        events: [event('evt_epoch', 'epoch.settled')],
      });
      await store.outbox.appendEvents([event('evt_off', 'device.offline')]);
      const types = (await store.outbox.listDeliveries({ limit: 10 })).map((d) => d.eventType).sort();
      expect(types).toEqual([
        'channel.closed',
        'channel.topped_up',
        'device.offline',
        'device.revoked',
        'epoch.settled',
      ]);
    });

    it('claims due deliveries oldest first within the limits, leases them, and records outcomes', async () => {
      const s1 = await subscribe(['*']);
      const s2 = await subscribe(['*'], 'http://127.0.0.1:2/h');
      await store.commit(
        batch([
          event('evt_1', 'channel.closed', 10n),
          event('evt_2', 'channel.closed', 20n),
          event('evt_3', 'channel.closed', 30n),
        ]),
      );
      expect(await claim(store, 5n)).toEqual([]); // not due yet
      // Two per subscription, s1 already has one in flight: one of s1's, two of s2's.
      const jobs = await claim(store, 100n, { per: 2, busy: new Map([[s1.id, 1]]) });
      expect(jobs.map((j) => `${j.subscriptionId}:${j.eventId}`)).toEqual([
        `${s1.id}:evt_1`,
        `${s2.id}:evt_1`,
        `${s2.id}:evt_2`,
      ]);
      expect(jobs[0]).toMatchObject({
        url: 'http://127.0.0.1:1/h',
        secret: SECRET,
        payload: JSON.stringify({ id: 'evt_1', type: 'channel.closed' }),
      });
      // Leased: not claimed again before the lease ends.
      const again = await claim(store, 100n);
      expect(again.map((j) => `${j.subscriptionId}:${j.eventId}`)).toEqual([
        `${s1.id}:evt_2`,
        `${s1.id}:evt_3`,
        `${s2.id}:evt_3`,
      ]);
      expect(await claim(store, 1_099n)).toEqual([]);
      expect(await store.outbox.nextDueAtMs()).toBe(1_100n);

      const [a, b, c] = jobs;
      await store.outbox.recordAttempt({ id: a!.id, atMs: 200n, state: 'delivered', status: 204, error: null });
      await store.outbox.recordAttempt({
        id: b!.id,
        atMs: 200n,
        state: 'retry',
        nextAttemptAtMs: 5_000n,
        status: 500,
        error: 'HTTP 500',
      });
      await store.outbox.recordAttempt({ id: c!.id, atMs: 200n, state: 'dead', status: null, error: 'ECONNREFUSED' });
      const byId = new Map((await store.outbox.listDeliveries({ limit: 10 })).map((d) => [d.id, d]));
      expect(byId.get(a!.id)).toMatchObject({ state: 'delivered', attempts: 1, lastStatus: 204, deliveredAtMs: 200n });
      expect(byId.get(b!.id)).toMatchObject({
        state: 'pending',
        attempts: 1,
        nextAttemptAtMs: 5_000n,
        lastError: 'HTTP 500',
      });
      expect(byId.get(c!.id)).toMatchObject({
        state: 'dead',
        attempts: 1,
        lastStatus: null,
        lastError: 'ECONNREFUSED',
      });
      expect((await store.outbox.listDeliveries({ limit: 10, state: 'dead' })).map((d) => d.id)).toEqual([c!.id]);

      // A dead letter sent again starts from scratch; a delivered one can be replayed.
      expect(await store.outbox.retryDelivery(c!.id, 300n)).toBe(true);
      expect(await store.outbox.retryDelivery(999_999n, 300n)).toBe(false);
      expect((await store.outbox.listDeliveries({ limit: 1, id: c!.id }))[0]).toMatchObject({
        state: 'pending',
        attempts: 0,
        nextAttemptAtMs: 300n,
      });
      expect(await store.outbox.countDeliveries()).toEqual({ pending: 5, delivered: 1, dead: 0 });
    });

    it('never hands one delivery to two claims made at once, and loses none', async () => {
      await subscribe(['*']);
      await store.commit(batch(Array.from({ length: 20 }, (_, i) => event(`evt_c${i}`, 'channel.closed', BigInt(i)))));
      // Concurrent on a networked store (a pool of connections): as two hubs' delivery loops would.
      const rounds = await Promise.all([1, 2, 3].map(() => claim(store, 100n, { limit: 8 })));
      const first = rounds.flat().map((j) => j.eventId);
      expect(new Set(first).size).toBe(first.length);
      const rest = (await claim(store, 100n)).map((j) => j.eventId);
      expect([...first, ...rest].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `evt_c${i}`).sort());
    });

    it('keeps pending deliveries and their next attempt across a reopen', async () => {
      await subscribe(['*']);
      await store.commit(batch([event('evt_r', 'channel.closed', 10n)]));
      const [job] = await claim(store, 10n);
      await store.outbox.recordAttempt({
        id: job!.id,
        atMs: 20n,
        state: 'retry',
        nextAttemptAtMs: 7_000n,
        status: 503,
        error: 'HTTP 503',
      });
      await store.close();
      store = await ctx.reopen();
      const [row] = await store.outbox.listDeliveries({ limit: 1 });
      expect(row).toMatchObject({ state: 'pending', attempts: 1, nextAttemptAtMs: 7_000n, lastStatus: 503 });
      expect(await claim(store, 6_999n)).toEqual([]);
      expect(await claim(store, 7_000n)).toHaveLength(1);
    });

    it('removes a subscription with what it is owed, and prunes old delivered rows', async () => {
      const s1 = await subscribe(['*']);
      const s2 = await subscribe(['channel.closed']);
      await store.commit(batch([event('evt_x', 'channel.closed', 10n)]));
      expect(await store.outbox.removeSubscription(s2.id)).toBe(true);
      expect(await store.outbox.removeSubscription(s2.id)).toBe(false);
      expect((await store.outbox.listSubscriptions()).map((s) => s.id)).toEqual([s1.id]);
      const [job] = await claim(store, 10n);
      await store.outbox.recordAttempt({ id: job!.id, atMs: 50n, state: 'delivered', status: 200, error: null });
      await store.outbox.prune(40n);
      expect(await store.outbox.countDeliveries()).toEqual({ pending: 0, delivered: 1, dead: 0 });
      await store.outbox.prune(60n);
      expect(await store.outbox.countDeliveries()).toEqual({ pending: 0, delivered: 0, dead: 0 });
    });

    it('keeps a channel threshold until it is cleared', async () => {
      const id = bytes(32);
      await store.outbox.setThreshold(id, '5%');
      await store.outbox.setThreshold(id, '5000');
      expect(
        (await store.outbox.listThresholds()).map((t) => [Buffer.from(t.channelId).toString('hex'), t.lowCapacity]),
      ).toEqual([[Buffer.from(id).toString('hex'), '5000']]);
      await store.outbox.setThreshold(id, null);
      expect(await store.outbox.listThresholds()).toEqual([]);
    });
  });
}
