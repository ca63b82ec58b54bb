// Reads behind a token off loopback: a hub whose HTTP listener is not a loopback address refuses
// to start unless it has a read token or was told --http-public-read; with a token every route but
// /healthz wants it (or the admin token), POSTs still want the admin token. The API's request rate
// per address answers 429 beyond its burst. Every refusal is counted in /metrics, from zero.
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/config-error.js';
import { isLoopback, resolveConfig } from '../../hub/base/config.js';
import type { HubHandle } from '../../hub/server.js';
import { tempDir, testHub } from './helpers/hub.js';

const READ_TOKEN = 'read-only-token-for-the-dashboard';

function metric(scrape: string, code: string): number {
  const m = new RegExp(`^tally_api_refusals_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(scrape);
  if (!m) throw new Error(`no tally_api_refusals_total series for ${code}`);
  return Number(m[1]);
}

describe('where reads need a token', () => {
  it('knows a loopback address', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', '::1', 'localhost', '::ffff:127.0.0.1'])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'hub.example.net', '128.0.0.1'])
      expect(isLoopback(h), h).toBe(false);
  });

  it('refuses a non-loopback listener without a read token or --http-public-read', () => {
    expect(() => resolveConfig({ http: '0.0.0.0:8080' })).toThrow(ConfigError);
    try {
      resolveConfig({ http: '0.0.0.0:8080', httpReadToken: 'short' });
    } catch (err) {
      expect((err as ConfigError).problems).toEqual(['the read token must be at least 16 characters']);
    }
    expect(resolveConfig({ http: '0.0.0.0:8080', httpReadToken: READ_TOKEN }).httpReadToken).toBe(READ_TOKEN);
    expect(resolveConfig({ http: '0.0.0.0:8080', httpPublicRead: true }).httpPublicRead).toBe(true);
    expect(resolveConfig({ http: '127.0.0.1:8080' }).httpPublicRead).toBe(false);
  });
});

describe('a hub listening beyond loopback', () => {
  const tmp = tempDir('tally-read-token-');
  const hubs: HubHandle[] = [];
  afterAll(async () => {
    for (const h of hubs) await h.close();
    tmp.cleanup();
  });
  const start = async (name: string, extra: Parameters<typeof testHub>[1]) => {
    const hub = await testHub(`${tmp.dir}/${name}`, { http: '0.0.0.0:0', ...extra });
    hubs.push(hub);
    return hub;
  };
  const call = (hub: HubHandle, path: string, token?: string, method = 'GET') =>
    fetch(`http://127.0.0.1:${hub.httpAddress.port}${path}`, {
      method,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(method === 'POST' ? { body: '{}' } : {}),
    });

  it('answers reads only with the read or the admin token, and changes only with the admin token', async () => {
    const hub = await start('token', { httpReadToken: READ_TOKEN });
    const before = await (await call(hub, '/metrics', READ_TOKEN)).text();
    expect(metric(before, 'API_UNAUTHORIZED')).toBe(0);
    expect(metric(before, 'API_RATE_LIMITED')).toBe(0);
    for (const path of [
      '/api/devices',
      '/api/channels',
      '/api/stats',
      '/api/hub',
      '/api/settlements',
      '/metrics',
      '/api/live',
    ]) {
      const res = await call(hub, path);
      expect(res.status, path).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('API_UNAUTHORIZED');
      expect((await call(hub, path, 'wrong-token-of-the-same-length!!')).status, path).toBe(401);
    }
    expect((await call(hub, '/api/devices', READ_TOKEN)).status).toBe(200);
    expect((await call(hub, '/api/devices', hub.adminToken)).status).toBe(200);
    const live = await call(hub, '/api/live', READ_TOKEN);
    expect(live.status).toBe(200);
    await live.body?.cancel();
    expect((await call(hub, '/healthz')).status).toBe(200);
    // A read token cannot change anything.
    expect((await call(hub, '/api/settlements', READ_TOKEN, 'POST')).status).toBe(401);
    expect((await call(hub, '/api/settlements', hub.adminToken, 'POST')).status).toBe(201);
    const after = await (await call(hub, '/metrics', hub.adminToken)).text();
    expect(metric(after, 'API_UNAUTHORIZED')).toBe(15);
  });

  it('is open to anyone with --http-public-read, as the operator said', async () => {
    const hub = await start('public', { httpPublicRead: true });
    expect((await call(hub, '/api/devices')).status).toBe(200);
    expect((await call(hub, '/api/settlements', undefined, 'POST')).status).toBe(401);
  });

  it('keeps reads open on loopback without a read token, as before', async () => {
    const hub = await testHub(`${tmp.dir}/loopback`);
    hubs.push(hub);
    expect((await fetch(`${hub.httpUrl}/api/devices`)).status).toBe(200);
  });

  it('answers 429 API_RATE_LIMITED beyond the burst from one address, and counts it', async () => {
    const hub = await start('rate', { httpReadToken: READ_TOKEN, httpRequestsPerSecond: 1 });
    // A burst of ten seconds' worth (10), then one a second.
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await call(hub, '/api/stats', READ_TOKEN)).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(8);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(200));
    const res = await call(hub, '/api/stats', READ_TOKEN);
    if (res.status === 429)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('API_RATE_LIMITED');
    // /metrics is rate limited too: read the counter from the hub's registry.
    const scrape = await hub.metrics.registry.metrics();
    expect(metric(scrape, 'API_RATE_LIMITED')).toBeGreaterThanOrEqual(8);
  });
});
