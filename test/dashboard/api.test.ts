// The HTTP side of the dashboard, over a real hub: the built page and its assets, the paged
// device list, a channel's history, the live event stream and the bundle check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, toHex } from '../../protocol/index.js';
import { buildAssets, startFleetHub, type FleetHub } from '../../support/dashboard-harness.js';

const ENROLLED = 120;

describe('dashboard HTTP endpoints', () => {
  let env: FleetHub;
  const get = async <T>(path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(env.hub.httpUrl + path, { headers });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      text,
      json: (text.startsWith('{') ? JSON.parse(text) : undefined) as T,
    };
  };
  const until = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 300 && !(await check()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await check()).toBe(true);
  };

  beforeAll(async () => {
    await buildAssets();
    env = await startFleetHub({ devices: 2, rate: 20 });
    await env.hub.core.enrol(
      Array.from({ length: ENROLLED }, () => ({
        publicKey: toHex(generateKeyPair().publicKey),
        unit: 'Wh',
        pricePerUnit: 2n,
        capacity: 1000n,
      })),
    );
  });
  afterAll(() => env?.close());

  it('serves the page and its assets from the hub, nothing from elsewhere', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.sort()).toEqual(['/assets/dashboard.css', '/assets/dashboard.js']);
    for (const a of assets) {
      const res = await get(a, { 'accept-encoding': 'gzip' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-encoding')).toBe('gzip');
      expect(res.text).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // no CDN, no remote fetch
    }
    expect((await get('/assets/nothing.js')).status).toBe(404);
    expect((await get('/assets/%2e%2e%2fhub.db')).json).toMatchObject({ error: { code: 'API_NOT_FOUND' } });
  });

  it('pages and searches the devices on the hub', async () => {
    const all = await get<{ total: number; devices: { publicKey: string }[] }>('/api/fleet?limit=50&offset=100');
    expect(all.json.total).toBe(ENROLLED + 2);
    expect(all.json.devices.length).toBe(22);
    const keys = [...env.hub.core.fleet.devices.keys()];
    expect(all.json.devices.map((d) => d.publicKey)).toEqual(keys.slice(100));

    const one = await get<{ total: number; devices: { publicKey: string; channel: { channelId: string } }[] }>(
      `/api/fleet?q=${keys[7]!.slice(0, 12).toUpperCase()}`,
    );
    expect(one.json.total).toBe(1);
    expect(one.json.devices[0]!.publicKey).toBe(keys[7]);
    const byChannel = await get<{ total: number }>(
      `/api/fleet?q=${one.json.devices[0]!.channel.channelId.slice(0, 12)}`,
    );
    expect(byChannel.json.total).toBe(1);

    await until(async () => (await get<{ total: number }>('/api/fleet?status=online')).json.total === 2);
    expect((await get<{ total: number }>('/api/fleet?status=offline')).json.total).toBe(ENROLLED);
    expect((await get<{ total: number }>('/api/fleet?status=revoked')).json.total).toBe(0);
    const sorted = await get<{ devices: { publicKey: string }[] }>('/api/fleet?sort=key&limit=500');
    expect(sorted.json.devices.map((d) => d.publicKey)).toEqual([...keys].sort());

    for (const bad of ['q=xyz', 'status=asleep', 'limit=-1', 'sort=size']) {
      expect((await get<{ error: { code: string } }>(`/api/fleet?${bad}`)).json.error.code).toBe('API_INVALID');
    }
  });

  it("gives a channel's usage history, last receipt and settlements", async () => {
    const ch = env.devices[0]!;
    await until(async () => ch.channelId !== undefined && env.hub.core.findChannel(ch.channelId).durable.seq >= 40n);
    type History = {
      device: { publicKey: string; connected: boolean; channels: string[] };
      usage: { atMs: string; seq: string; cumUnits: string }[];
      receipt: { seq: string } | null;
      settlements: { epoch: string; toSeq: string }[];
    };
    const h = (await get<History>(`/api/channels/${ch.channelId}/history?points=10`)).json;
    expect(h.device).toMatchObject({ publicKey: ch.hex, connected: true, channels: [ch.channelId] });
    expect(h.usage[0]).toMatchObject({ seq: '0', cumUnits: '0' });
    expect(h.usage.length).toBeGreaterThan(2);
    expect(h.usage.length).toBeLessThanOrEqual(11);
    for (let i = 1; i < h.usage.length; i++) {
      expect(BigInt(h.usage[i]!.seq)).toBeGreaterThan(BigInt(h.usage[i - 1]!.seq));
      expect(BigInt(h.usage[i]!.cumUnits)).toBeGreaterThan(BigInt(h.usage[i - 1]!.cumUnits));
      expect(BigInt(h.usage[i]!.atMs)).toBeGreaterThanOrEqual(BigInt(h.usage[i - 1]!.atMs));
    }
    expect(BigInt(h.receipt!.seq)).toBeGreaterThanOrEqual(BigInt(h.usage.at(-1)!.seq));
    expect(h.settlements).toEqual([]);

    const epoch = (await env.hub.core.settle())!;
    const after = (await get<History>(`/api/channels/${ch.channelId}/history`)).json;
    expect(after.settlements).toEqual([expect.objectContaining({ epoch: epoch.epoch, fromSeq: '1' })]);
    const idle = env.hub.core.fleet.currentChannel([...env.hub.core.fleet.devices.keys()][5]!)!;
    const none = (await get<History>(`/api/channels/${idle.idHex}/history`)).json;
    expect(none.usage.length).toBe(1);
    expect(none.receipt).toBeNull();
    expect((await get('/api/channels/00000000/history')).status).toBe(404);
  });

  it('checks a settlement bundle with the offline verifier', async () => {
    const epoch = (await env.hub.core.settle())!;
    const v = (await get<{ ok: boolean; entryCount: number; root: string }>(`/api/settlements/${epoch.epoch}/verify`))
      .json;
    expect(v).toMatchObject({ ok: true, entryCount: epoch.entryCount, root: epoch.root });
    expect((await get('/api/settlements/999/verify')).status).toBe(404);
  });

  it('streams live ticks with the fleet counts and the rate series', async () => {
    await until(async () =>
      (await get<{ series: { vouchersPerSec: number }[] }>('/api/activity')).json.series.some(
        (p) => p.vouchersPerSec > 0,
      ),
    );
    const ctl = new AbortController();
    const res = await fetch(`${env.hub.httpUrl}/api/live`, { signal: ctl.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    // The opening (retry, series, tick) and at least one tick pushed by the timer after it.
    while ((text.match(/event: tick/g) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
    ctl.abort();
    const events = text.split('\n\n').filter((e) => e.startsWith('event:'));
    const series = JSON.parse(events[0]!.split('data: ')[1]!) as { series: unknown[] };
    expect(series.series.length).toBeGreaterThan(0);
    const tick = JSON.parse(events[1]!.split('data: ')[1]!) as {
      devices: number;
      online: number;
      stats: { devices: number; acceptedUnits: string };
    };
    expect(tick.devices).toBe(ENROLLED + 2);
    expect(tick.stats.devices).toBe(ENROLLED + 2);
    expect(tick.online).toBe(2);
    expect(BigInt(tick.stats.acceptedUnits)).toBeGreaterThan(0n);
    // The tick's totals are kept from the registry's changes; GET /api/stats counts them afresh.
    // The fleet keeps metering, so accepted units can only have grown since the tick.
    const after = (await get<Record<string, string | number>>('/api/stats')).json;
    expect(Object.keys(tick.stats).sort()).toEqual(Object.keys(after).sort());
    const ticked = tick.stats as unknown as Record<string, unknown>;
    for (const k of ['devices', 'channels', 'devicesRevoked', 'devicesConnected']) expect(ticked[k]).toBe(after[k]);
    expect(BigInt(tick.stats.acceptedUnits)).toBeLessThanOrEqual(BigInt(after.acceptedUnits!));
  });
});
