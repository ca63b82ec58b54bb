// Webhooks end to end, in process: a real hub (embedded broker, SQLite in a temp dir) and a real
// HTTP receiver (helpers/webhook-receiver.ts) that checks signatures with the standardwebhooks
// package. Every event type is caused the way it happens in the field and arrives once per id;
// a failing receiver gets retries, a hung one timeouts and, past the retry budget, dead letters
// that the API lists and sends again; ingest goes on while the receiver hangs.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex } from '../../protocol/index.js';
import type { HubHandle } from '../../hub/server.js';
import { newSecret } from '../../hub/webhooks/sign.js';
import { waitFor } from '../../support/test-hub.js';
import { readyDevice, TestDevice } from './helpers/device.js';
import { tempDir, testHub } from './helpers/hub.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const FAST = { retryBaseMs: 20, retryMaxMs: 200, pollMs: 50 };

async function api(hub: HubHandle, method: string, path: string, body?: unknown, admin = true) {
  const res = await fetch(hub.httpUrl + path, {
    method,
    headers: {
      ...(admin ? { authorization: `Bearer ${hub.adminToken}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function metric(hub: HubHandle, series: string): Promise<number> {
  const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  if (line === undefined) throw new Error(`no series ${series}`);
  return Number(line.slice(series.length + 1));
}

describe('webhooks', () => {
  let tmp: ReturnType<typeof tempDir>;
  let hub: HubHandle | undefined;
  let receiver: WebhookReceiver;
  const secret = newSecret();
  const devices: TestDevice[] = [];
  beforeEach(async () => {
    tmp = tempDir();
    receiver = await new WebhookReceiver(secret).start();
  });
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.disconnect();
    await hub?.close();
    hub = undefined;
    await receiver.stop();
    tmp.cleanup();
  });

  it('delivers every event type once per id, signed, with amounts as strings', async () => {
    hub = await testHub(tmp.dir, { webhooks: { ...FAST, lowCapacity: '20%', offlineAfterMs: 300 } });
    const sub = await api(hub, 'POST', '/api/webhooks', { url: receiver.url, events: ['*'], secret });
    expect(sub.status).toBe(201);
    expect(sub.json.secret).toBe(secret);
    expect((await api(hub, 'GET', '/api/webhooks', undefined, false)).status).toBe(401);

    // Capacity 100 at price 1: 85 units cross 20% (remaining 15), 100 exhaust it.
    const a = await readyDevice(hub, { price: 1n, capacity: 100n });
    devices.push(a);
    await a.publish(a.build(85));
    await a.receiptAtLeast(85n);
    await a.publish(a.build(15));
    await a.receiptAtLeast(100n);
    await waitFor(() => receiver.ofType('channel.exhausted').length === 1, 'exhausted', 10_000);
    expect(receiver.ofType('channel.low_capacity')).toHaveLength(1);

    // A top-up re-arms low capacity: 100 more, and using 85 of them crosses it again.
    const id = toHex(a.channelId!);
    await hub.core.topup(id, 100n);
    await a.publish(a.build(85));
    await a.receiptAtLeast(185n);
    await waitFor(() => receiver.ofType('channel.low_capacity').length === 2, 'second low capacity', 10_000);

    // Equivocation: the device signs a second, different chain from an old head.
    const b = await readyDevice(hub, { price: 2n });
    devices.push(b);
    const start = b.head!;
    await b.publish(b.build(4));
    await b.receiptAtLeast(4n);
    b.head = start;
    await b.publish(b.build(4, 2n));
    await waitFor(() => receiver.ofType('device.equivocation').length === 1, 'equivocation', 10_000);

    await hub.core.settle();
    await hub.core.closeChannel(id);
    const c = await readyDevice(hub);
    devices.push(c);
    await hub.core.revoke(c.hex);
    // b goes away and stays away: device.offline after 300 ms.
    await b.disconnect();
    devices.splice(devices.indexOf(b), 1);

    const all = [
      'channel.low_capacity',
      'channel.exhausted',
      'channel.topped_up',
      'channel.closed',
      'epoch.settled',
      'device.equivocation',
      'device.offline',
      'device.revoked',
    ];
    await waitFor(() => all.every((t) => receiver.ofType(t).length > 0), 'every type', 15_000);
    const counts = Object.fromEntries(all.map((t) => [t, receiver.ofType(t).length]));
    expect(counts).toEqual({
      ...Object.fromEntries(all.map((t) => [t, 1])),
      'channel.low_capacity': 2,
      'device.offline': 1,
    });
    expect(receiver.requests.every((r) => r.verified)).toBe(true);

    const exhausted = JSON.parse(receiver.ofType('channel.exhausted')[0]!.body);
    expect(exhausted).toMatchObject({
      type: 'channel.exhausted',
      id: receiver.ofType('channel.exhausted')[0]!.id,
      hub: { publicKey: hub.publicKeyHex, network: 'test-net' },
      data: { channelId: id, capacity: '100', cumAmount: '100', remaining: '0', headSeq: '100' },
    });
    const topped = JSON.parse(receiver.ofType('channel.topped_up')[0]!.body);
    expect(topped.data).toMatchObject({ amount: '100', previousCapacity: '100', capacity: '200', state: 'open' });
    const settled = JSON.parse(receiver.ofType('epoch.settled')[0]!.body);
    expect(settled.data).toMatchObject({ epoch: '1', entryCount: 2, totalDeltaAmount: String(185 + 4 * 2) });
    const offline = JSON.parse(receiver.ofType('device.offline')[0]!.body);
    expect(offline.data.devicePublicKey).toBe(b.hex);

    // Nothing pending, nothing dead, every delivery counted.
    const list = await api(hub, 'GET', '/api/webhooks/deliveries', undefined, false);
    expect(list.json.counts).toEqual({ pending: 0, delivered: 9, dead: 0 });
    expect(await metric(hub, 'tally_webhook_deliveries_total{type="channel.low_capacity"}')).toBe(2);
    expect(await metric(hub, 'tally_webhook_dead_letters_total{type="epoch.settled"}')).toBe(0);
    expect(await metric(hub, 'tally_webhook_outbox{state="pending"}')).toBe(0);
  });

  it('retries a failing receiver until it answers, and does not stall ingest meanwhile', async () => {
    hub = await testHub(tmp.dir, { webhooks: { ...FAST, maxAttempts: 1000 } });
    await hub.core.webhooks.add({ url: receiver.url, events: ['epoch.settled'], secret });
    receiver.mode = 'fail';
    const d = await readyDevice(hub);
    devices.push(d);
    await d.publish(d.build(3));
    await d.receiptAtLeast(3n);
    await hub.core.settle();
    await waitFor(() => receiver.requests.length >= 3, 'three failed attempts', 10_000);
    // Ingest goes on: receipts keep coming while the receiver fails.
    await d.publish(d.build(3));
    await d.receiptAtLeast(6n);
    expect(await metric(hub, 'tally_webhook_delivery_failures_total{reason="status"}')).toBeGreaterThanOrEqual(3);
    expect(await metric(hub, 'tally_webhook_outbox{state="pending"}')).toBe(1);
    receiver.mode = 'ok';
    await waitFor(() => receiver.accepted.size === 1, 'delivered after recovery', 10_000);
    const ids = new Set(receiver.requests.map((r) => r.id));
    expect(ids.size).toBe(1); // every retry carries the same idempotency key
  });

  it('times out a hung receiver, dead-letters after the budget, and sends a dead letter again on request', async () => {
    hub = await testHub(tmp.dir, {
      webhooks: { ...FAST, timeoutMs: 200, maxAttempts: 3, concurrency: 2, perSubscription: 1 },
    });
    await hub.core.webhooks.add({ url: receiver.url, events: ['channel.closed', 'device.revoked'], secret });
    receiver.mode = 'hang';
    const d = await readyDevice(hub);
    devices.push(d);
    await hub.core.revoke(d.hex);
    await until(
      async () => (await hub!.core.webhooks.deliveries({ state: 'dead' })).deliveries.length === 1,
      'dead letter',
    );
    expect(receiver.requests).toHaveLength(3);
    expect(await metric(hub, 'tally_webhook_delivery_failures_total{reason="timeout"}')).toBe(3);
    expect(await metric(hub, 'tally_webhook_dead_letters_total{type="device.revoked"}')).toBe(1);
    expect(await metric(hub, 'tally_webhook_outbox{state="dead"}')).toBe(1);

    const dead = await api(hub, 'GET', '/api/webhooks/deliveries?state=dead', undefined, false);
    expect(dead.json.deliveries[0]).toMatchObject({
      type: 'device.revoked',
      state: 'dead',
      attempts: 3,
      lastStatus: null,
    });
    const deliveryId = dead.json.deliveries[0].id as string;
    expect((await api(hub, 'POST', `/api/webhooks/deliveries/${deliveryId}/retry`, undefined, false)).status).toBe(401);
    receiver.mode = 'ok';
    const retried = await api(hub, 'POST', `/api/webhooks/deliveries/${deliveryId}/retry`);
    expect(retried.status).toBe(200);
    await waitFor(() => receiver.accepted.size === 1, 'dead letter delivered', 10_000);
    expect([...receiver.accepted.values()][0]!.type).toBe('device.revoked');
  });

  it('holds a hung receiver to its share of requests while another subscription is served', async () => {
    hub = await testHub(tmp.dir, {
      webhooks: { ...FAST, timeoutMs: 60_000, concurrency: 4, perSubscription: 2, maxAttempts: 1000 },
    });
    const other = await new WebhookReceiver(secret).start();
    try {
      await hub.core.webhooks.add({ url: receiver.url, events: ['channel.closed'], secret });
      await hub.core.webhooks.add({ url: other.url, events: ['channel.closed'], secret });
      receiver.mode = 'hang';
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const d = await new TestDevice(hub).enrol();
        ids.push((await hub.core.closeChannel(hub.core.showDevice(d.hex).channelId!)).channelId);
      }
      // The healthy receiver gets all 20 while the hung one holds its two requests.
      await waitFor(() => other.accepted.size === 20, 'the healthy receiver served', 15_000);
      expect(receiver.requests).toHaveLength(2);
      // Once the last healthy answer is recorded, only the hung receiver's two remain in flight.
      await until(
        async () =>
          JSON.stringify((await hub!.core.webhooks.deliveries({})).counts) ===
          JSON.stringify({ pending: 20, delivered: 20, dead: 0 }),
        'the healthy deliveries recorded',
      );
      await until(async () => (await metric(hub!, 'tally_webhook_in_flight')) === 2, 'two requests in flight');
      expect(receiver.requests).toHaveLength(2);
      expect(ids).toHaveLength(20);
    } finally {
      await other.stop();
    }
  });

  it('refuses bad subscriptions with a reason and lists and removes good ones', async () => {
    hub = await testHub(tmp.dir, { webhooks: FAST });
    const bad = [
      { url: 'ftp://x', events: ['*'] },
      { url: 'http://u:p@x/', events: ['*'] },
      { url: receiver.url, events: ['channel.nope'] },
      { url: receiver.url, events: [] },
      { url: receiver.url, events: ['*'], secret: 'hunter2' },
    ];
    for (const body of bad) {
      const r = await api(hub, 'POST', '/api/webhooks', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.code).toBe('API_INVALID');
    }
    const made = await api(hub, 'POST', '/api/webhooks', { url: receiver.url, events: 'epoch.settled,channel.closed' });
    expect(made.json.secret).toMatch(/^whsec_/);
    const listed = await api(hub, 'GET', '/api/webhooks');
    expect(listed.json.subscriptions).toEqual([
      {
        id: made.json.id,
        url: receiver.url,
        events: ['epoch.settled', 'channel.closed'],
        createdAt: made.json.createdAt,
      },
    ]);
    expect(JSON.stringify(listed.json)).not.toContain('whsec_');
    expect((await api(hub, 'DELETE', `/api/webhooks/${made.json.id}`)).json).toEqual({
      id: made.json.id,
      removed: true,
    });
    expect((await api(hub, 'DELETE', `/api/webhooks/${made.json.id}`)).status).toBe(404);
  });
});
