// The HTTP API over a real socket: provisioning behind the admin token (single and batch enrolment),
// reads, settlement, rejections, error codes and Prometheus metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, toHex } from '../../protocol/index.js';
import type { HubHandle } from '../../hub/server.js';
import { TestDevice } from './helpers/device.js';
import { tempDir, testHub } from './helpers/hub.js';

describe('HTTP API', () => {
  const tmp = tempDir();
  let hub: HubHandle;
  let device: TestDevice | undefined;
  beforeAll(async () => {
    hub = await testHub(tmp.dir);
  });
  afterAll(async () => {
    await device?.disconnect();
    await hub.close();
    tmp.cleanup();
  });

  async function call(method: string, path: string, body?: unknown, token: string | null = hub.adminToken) {
    const res = await fetch(hub.httpUrl + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  const terms = (key = generateKeyPair()) => ({
    publicKey: toHex(key.publicKey),
    unit: 'Wh',
    pricePerUnit: '4',
    capacity: '18446744073709551615',
  });

  it('refuses provisioning without the admin token', async () => {
    expect((await call('POST', '/api/devices', terms(), null)).json.error.code).toBe('API_UNAUTHORIZED');
    expect((await call('POST', '/api/devices', terms(), 'wrong')).status).toBe(401);
    expect((await call('POST', '/api/settlements', undefined, null)).status).toBe(401);
  });

  it('enrols one device, or a batch all-or-nothing', async () => {
    const one = await call('POST', '/api/devices', terms());
    expect(one.status).toBe(201);
    expect(one.json.channel.capacity).toBe('18446744073709551615'); // u64 max survives as a string

    const batch = await call('POST', '/api/devices', [terms(), terms(), terms()]);
    expect(batch.status).toBe(201);
    expect(batch.json.enrolled).toHaveLength(3);

    const before = hub.core.fleet.devices.size;
    const mixed = await call('POST', '/api/devices', { devices: [terms(), { ...terms(), unit: 'no spaces' }] });
    expect(mixed.status).toBe(400);
    expect(mixed.json.error.code).toBe('API_INVALID');
    expect(hub.core.fleet.devices.size).toBe(before);

    const dup = await call('POST', '/api/devices', { ...terms(), publicKey: one.json.device.publicKey });
    expect(dup.status).toBe(409);
    const float = await call('POST', '/api/devices', { ...terms(), pricePerUnit: 0.5 });
    expect(float.json.error.code).toBe('API_INVALID');
  });

  it('serves devices, channels, top-up, settlement, bundles, CSV and rejections', async () => {
    const key = generateKeyPair();
    const enrolled = await call('POST', '/api/devices', { ...terms(key), capacity: '40' });
    const channelId = enrolled.json.channel.channelId as string;
    device = new TestDevice(hub, key);
    await device.connect();
    await device.publish(device.build(5));
    await device.receiptAtLeast(5n);
    await device.publish(new Uint8Array([1, 1, 0]));

    const ch = await call('GET', `/api/channels/${channelId.slice(0, 12)}`);
    expect(ch.json.head.cumAmount).toBe('20');
    expect(ch.json.lastReceipt).toMatch(/^[0-9a-f]{324}$/);
    expect((await call('GET', `/api/devices/${toHex(key.publicKey)}`)).json.connected).toBe(true);

    const topped = await call('POST', `/api/channels/${channelId}/topup`, { amount: '60' });
    expect(topped.json.capacity).toBe('100');

    const settled = await call('POST', '/api/settlements');
    expect(settled.status).toBe(201);
    const epoch = settled.json.epoch as string;
    const bundle = await call('GET', `/api/settlements/${epoch}/bundle?channel=${channelId}`);
    expect(bundle.json.format).toBe('tally-settlement-bundle/2');
    expect(bundle.json.entries).toHaveLength(1);
    const csv = await call('GET', `/api/settlements/${epoch}/csv`);
    expect(csv.text.split('\n')[0]).toContain('delta_amount');

    await hub.core.flush();
    const rejections = await call('GET', '/api/rejections?reason=DECODE_TRUNCATED');
    expect(rejections.json.counts.find((c: { reason: string }) => c.reason === 'DECODE_TRUNCATED').events).toBe('1');
    expect(rejections.json.recent[0].deviceKey).toBe(toHex(key.publicKey));

    const stats = await call('GET', '/api/stats');
    expect(stats.json.acceptedAmount).toBe('20');
  });

  it('answers unknown routes, wrong methods and bad JSON with their codes', async () => {
    expect((await call('GET', '/api/nothing')).json.error.code).toBe('API_NOT_FOUND');
    expect((await call('DELETE', '/api/devices')).json.error.code).toBe('API_METHOD');
    expect((await call('POST', '/api/devices', '{not json')).json.error.code).toBe('API_BAD_JSON');
    expect((await call('GET', '/api/settlements/999')).status).toBe(404);
    expect((await call('GET', '/healthz')).json.ok).toBe(true);
  });

  it('exposes the Prometheus metrics the operators alert on', async () => {
    const text = (await call('GET', '/metrics')).text;
    for (const name of [
      'tally_vouchers_accepted_total',
      'tally_vouchers_rejected_total{reason="DECODE_TRUNCATED"}',
      'tally_units_accepted_total',
      'tally_receipts_sent_total',
      'tally_devices_connected',
      'tally_ingest_latency_seconds_bucket',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/tally_vouchers_accepted_total \d+/);
  });
});
