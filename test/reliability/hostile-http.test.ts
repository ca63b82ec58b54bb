// Hostile input on the HTTP API of a real hub (127.0.0.1): every admin route without a token, with
// a wrong one, with a token of another length; enrolment bodies that are malformed, oversized,
// negative, overflowing u64, of the wrong types, or carry small-order and non-canonical keys. Each
// is refused with its documented code, the hub keeps answering, and no device, channel or balance
// appears or moves. Then requests an unauthenticated client can send to make a hub log stack
// traces (out-of-range ids, absolute-form targets), a Host header of a rebound name, and live
// streams that are opened and never read.
import { connect as tcpConnect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, SMALL_ORDER_ENCODINGS, toHex } from '../../protocol/index.js';
import type { HubHandle } from '../../hub/server.js';
import { tempDir, testHub } from '../hub/helpers/hub.js';
import { captureLogs } from '../../support/log-capture.js';
import { sampleRss, startHubProcess } from './helpers/hub-process.js';
import { envInt, recorder } from './helpers/record.js';

const FUZZ_RUNS = envInt('TALLY_FUZZ_RUNS', 2000);
const rec = recorder('hostile-http', { TALLY_FUZZ_RUNS: FUZZ_RUNS });

describe('hostile HTTP API requests', () => {
  const tmp = tempDir();
  let hub: HubHandle;
  let channelId: string;
  beforeAll(async () => {
    hub = await testHub(tmp.dir);
    const [r] = await hub.core.enrol([
      { publicKey: toHex(generateKeyPair().publicKey), unit: 'Wh', pricePerUnit: 1n, capacity: 100n },
    ]);
    channelId = r!.channel.channelId;
  });
  afterAll(async () => {
    await hub.close();
    tmp.cleanup();
  });

  async function call(method: string, path: string, body?: string, token: string | null = hub.adminToken) {
    const res = await fetch(hub.httpUrl + path, {
      method,
      headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      code = undefined;
    }
    return { status: res.status, code };
  }

  it('refuses every admin route without the token, with a wrong one, and with a near miss', async () => {
    const key = toHex(generateKeyPair().publicKey);
    const routes: [string, string, string | undefined][] = [
      ['POST', '/api/devices', JSON.stringify({ publicKey: key, unit: 'Wh', pricePerUnit: '1', capacity: '10' })],
      ['POST', `/api/devices/${key}/revoke`, undefined],
      ['POST', `/api/channels/${channelId}/topup`, JSON.stringify({ amount: '1000' })],
      ['POST', `/api/channels/${channelId}/close`, undefined],
      ['POST', '/api/settlements', undefined],
    ];
    const tokens: (string | null)[] = [
      null,
      '',
      'wrong',
      hub.adminToken.slice(0, -1),
      `${hub.adminToken}x`,
      hub.adminToken.toUpperCase(),
    ];
    const before = await hub.core.stats();
    let refused = 0;
    for (const [method, path, body] of routes) {
      for (const t of tokens) {
        const r = await call(method, path, body, t);
        expect(r.status, `${method} ${path} with ${JSON.stringify(t)}`).toBe(401);
        expect(r.code).toBe('API_UNAUTHORIZED');
        refused++;
      }
    }
    const after = await hub.core.stats();
    expect(after.devices).toBe(before.devices);
    expect(hub.core.listChannels()[0]!.state).toBe('open');
    expect(hub.core.listChannels()[0]!.capacity).toBe('100');
    expect(after.lastEpoch).toBeNull();
    rec.record({
      case: 'admin endpoints without a token or with a wrong token',
      expected: '401 API_UNAUTHORIZED for every admin route and every wrong token; nothing changes',
      observed: `${refused} of ${routes.length * tokens.length} requests refused with 401 API_UNAUTHORIZED; devices ${after.devices}, channel still open with capacity 100, no epoch`,
      figures: { inputs: routes.length * tokens.length, rejected: refused },
    });
  });

  const httpRuns = Math.max(200, Math.floor(FUZZ_RUNS / 10));
  it(
    'answers any JSON on the admin routes with a documented 4xx, never a 500',
    { timeout: 60_000 + httpRuns * 50 },
    async () => {
      const runs = httpRuns;
      const paths = [
        '/api/devices',
        `/api/channels/${channelId}/topup`,
        '/api/settlements',
        `/api/channels/${channelId.slice(0, 8)}/topup`,
      ];
      const field = fc.oneof(
        fc.jsonValue(),
        fc.bigInt().map(String),
        fc.constantFrom('18446744073709551616', '-0', '1e3', '0x10', ' 7', ''),
      );
      const body = fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc
          .record(
            {
              publicKey: fc.oneof(field, fc.constant(toHex(generateKeyPair().publicKey))),
              unit: field,
              pricePerUnit: field,
              capacity: field,
              expires: field,
              expiresAtMs: field,
            },
            { requiredKeys: [] },
          )
          .map((v) => JSON.stringify(v)),
        fc.record({ amount: field }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
        fc.string({ maxLength: 200 }),
      );
      const statuses = new Map<number, number>();
      const before = await hub.core.stats();
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...paths), body, async (path, b) => {
          const r = await call('POST', path, b);
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          expect(r.status, `${path} ${b.slice(0, 200)}`).not.toBe(500);
          expect(r.code === undefined || r.status < 300 || /^API_/.test(r.code)).toBe(true);
        }),
        { numRuns: runs },
      );
      const after = await hub.core.stats();
      expect((await fetch(`${hub.httpUrl}/healthz`)).status).toBe(200);
      rec.record({
        case: 'fuzz: arbitrary JSON on the admin routes (enrol, top-up, settle)',
        expected: 'a documented status and code for every body, never 500; the hub keeps answering',
        observed: `${runs} bodies; statuses ${[...statuses]
          .sort()
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ')}; devices ${before.devices} -> ${after.devices}`,
        figures: { inputs: runs, rejected: [...statuses].filter(([k]) => k >= 400).reduce((a, [, v]) => a + v, 0) },
      });
    },
  );

  it('refuses malformed, oversized, negative, overflowing and hostile-key enrolments', async () => {
    const key = () => toHex(generateKeyPair().publicKey);
    const body = (o: Record<string, unknown>) =>
      JSON.stringify({ publicKey: key(), unit: 'Wh', pricePerUnit: '1', capacity: '10', ...o });
    const cases: [string, string, number, string][] = [
      ['not JSON', '{"publicKey":', 400, 'API_BAD_JSON'],
      ['empty body', '', 400, 'API_INVALID'],
      ['over 16 MiB', `"${'a'.repeat(16 * 1024 * 1024 + 10)}"`, 413, 'API_BODY_TOO_LARGE'],
      ['negative price', body({ pricePerUnit: '-1' }), 400, 'API_INVALID'],
      ['negative capacity as a number', body({ capacity: -5 }), 400, 'API_INVALID'],
      ['capacity beyond u64', body({ capacity: '18446744073709551616' }), 400, 'API_INVALID'],
      ['price beyond u64', body({ pricePerUnit: '99999999999999999999999' }), 400, 'API_INVALID'],
      ['fractional price', body({ pricePerUnit: '1.5' }), 400, 'API_INVALID'],
      ['float price beyond 2^53', body({ pricePerUnit: 1e300 }), 400, 'API_INVALID'],
      ['price as an object', body({ pricePerUnit: { $gt: 0 } }), 400, 'API_INVALID'],
      ['key of the wrong length', body({ publicKey: 'abcd' }), 400, 'API_INVALID'],
      ['small-order key', body({ publicKey: SMALL_ORDER_ENCODINGS[0] }), 400, 'API_INVALID'],
      [
        'non-canonical key',
        body({ publicKey: 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f' }),
        400,
        'API_INVALID',
      ],
      ['unit outside its alphabet', body({ unit: 'W h<script>' }), 400, 'API_INVALID'],
      ['expiry in the past', body({ expiresAtMs: '1' }), 400, 'API_INVALID'],
      [
        'a batch with one bad entry',
        JSON.stringify([JSON.parse(body({})), JSON.parse(body({ capacity: '0' }))]),
        400,
        'API_INVALID',
      ],
    ];
    const before = (await hub.core.stats()).devices;
    const observed: string[] = [];
    for (const [name, b, status, code] of cases) {
      const r = await call('POST', '/api/devices', b);
      observed.push(`${name}: ${r.status} ${r.code}`);
      expect([r.status, r.code], name).toEqual([status, code]);
    }
    expect((await hub.core.stats()).devices).toBe(before);
    expect((await fetch(`${hub.httpUrl}/healthz`)).status).toBe(200);
    rec.record({
      case: 'hostile enrolment bodies on the HTTP API',
      expected:
        'each refused with its documented status and code (400 API_BAD_JSON / API_INVALID, 413 API_BODY_TOO_LARGE); no device enrolled; hub still healthy',
      observed: `${cases.length} bodies refused as documented; devices ${before} -> ${(await hub.core.stats()).devices}; /healthz 200`,
      figures: { inputs: cases.length, rejected: cases.length },
    });
  });
});

/** One raw HTTP/1.1 request; resolves with the status code and the body. */
function rawRequest(url: string, target: string, host: string | null): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(port), hostname, () => {
      socket.write(`GET ${target} HTTP/1.1\r\n${host === null ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

const codeOf = (body: string): string | undefined => {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
};

describe('requests an unauthenticated client can make to hurt the hub', () => {
  const tmp = tempDir();
  let hub: HubHandle;
  // Lines above info: what an operator's hub (at its default level) would show as a problem.
  const logs = captureLogs('warn');
  const logged = logs.lines;
  beforeAll(async () => {
    hub = await testHub(tmp.dir, {
      httpAllowedHosts: ['hub.example.net'],
      logger: logs.logger,
    });
  });
  afterAll(async () => {
    await hub.close();
    tmp.cleanup();
  });

  it('answers out-of-range ids and non-path request targets with 400, and logs nothing', async () => {
    const host = new URL(hub.httpUrl).host;
    const cases: [string, string][] = [
      ['epoch beyond i64', '/api/settlements/9999999999999999999'],
      ['bundle of an epoch beyond i64', '/api/settlements/9999999999999999999/bundle'],
      ['CSV of an epoch beyond i64', '/api/settlements/9223372036854775808/csv'],
      ['check of an epoch beyond i64', '/api/settlements/9223372036854775808/verify'],
      ['absolute-form target', `http://${host}/api/hub`],
      ['absolute-form target naming another host', 'http://evil.example/api/stats'],
      ['a target starting with //', '//evil.example/api/stats'],
      ['asterisk-form target', '*'],
    ];
    const observed: string[] = [];
    for (const [name, target] of cases) {
      const r = await rawRequest(hub.httpUrl, target, host);
      observed.push(`${name}: ${r.status} ${codeOf(r.body) ?? '-'}`);
      expect([r.status, codeOf(r.body)], name).toEqual([400, 'API_INVALID']);
    }
    // The largest epoch SQLite can hold is an ordinary miss.
    expect((await rawRequest(hub.httpUrl, '/api/settlements/9223372036854775807', host)).status).toBe(404);
    expect(logged).toEqual([]);
    rec.record({
      case: 'out-of-range epoch ids and absolute-form, // and * request targets, unauthenticated',
      expected: '400 API_INVALID for each, nothing in the hub log (no stack traces to flood it)',
      observed: `${observed.join('; ')}; hub log lines: ${logged.length}`,
      figures: { inputs: cases.length, rejected: cases.length },
    });
  });

  it('refuses a Host header naming anything but the hub (DNS rebinding)', async () => {
    const port = new URL(hub.httpUrl).port;
    const cases: [string, number][] = [
      ['evil.example', 421],
      [`evil.example:${port}`, 421],
      ['localhost.evil.example', 421],
      ['127.0.0.1.nip.io', 421],
      [`127.0.0.1:${port}`, 200],
      [`localhost:${port}`, 200],
      ['[::1]', 200],
      ['10.1.2.3', 200],
      ['hub.example.net', 200],
      ['HUB.example.net.', 200],
    ];
    const observed: string[] = [];
    for (const [host, status] of cases) {
      const r = await rawRequest(hub.httpUrl, '/api/stats', host);
      observed.push(`${host}: ${r.status}`);
      expect(r.status, host).toBe(status);
      if (status === 421) expect(codeOf(r.body)).toBe('API_HOST_DENIED');
    }
    rec.record({
      case: 'Host headers of rebound names on the open read API',
      expected:
        '421 API_HOST_DENIED unless the Host is an IP address, localhost, the listen address or an --allowed-host name',
      observed: observed.join('; '),
      figures: { inputs: cases.length, rejected: cases.filter(([, s]) => s === 421).length },
    });
  });
});

describe('live streams that are opened and never read (hub in its own process)', () => {
  const tmp = tempDir();

  it('caps the streams open at once and keeps the hub near its baseline', async () => {
    const hub = await startHubProcess(tmp.dir, { httpMaxLiveStreams: 20 });
    const tries = 300;
    const sockets: Socket[] = [];
    try {
      const base = hub.rssMiB();
      const sampler = sampleRss(hub.child.pid!);
      const { hostname, port } = new URL(hub.httpUrl);
      // Each client reads the status line, then stops reading for good.
      const statuses = await Promise.all(
        Array.from(
          { length: tries },
          () =>
            new Promise<number>((resolve, reject) => {
              const s = tcpConnect(Number(port), hostname, () =>
                s.write(`GET /api/live HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`),
              );
              sockets.push(s);
              s.once('error', reject);
              s.once('data', (d: Buffer) => {
                s.pause();
                resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'))?.[1] ?? 0));
              });
            }),
        ),
      );
      await new Promise((r) => setTimeout(r, 3_000)); // ticks keep coming for the open ones
      const peak = sampler.stop();
      for (const s of sockets) s.destroy();
      await new Promise((r) => setTimeout(r, 500));
      const after = hub.rssMiB();
      const open = statuses.filter((s) => s === 200).length;
      const busy = statuses.filter((s) => s === 503).length;
      expect(open).toBe(20);
      expect(busy).toBe(tries - 20);
      expect(peak - base).toBeLessThan(64);
      expect(after - base).toBeLessThan(24);
      expect((await fetch(`${hub.httpUrl}/healthz`)).status).toBe(200);
      rec.record({
        case: `${tries} live streams opened and never read, 20 allowed`,
        expected:
          '20 open, the rest 503 API_BUSY; hub RSS under baseline + 64 MiB during, within 24 MiB after; the hub keeps answering',
        observed: `${open} open, ${busy} refused 503; RSS baseline ${base.toFixed(0)} MiB, peak +${(peak - base).toFixed(1)}, after +${(after - base).toFixed(1)}`,
        figures: {
          inputs: tries,
          rejected: busy,
          rssPeakMiB: Math.round((peak - base) * 10) / 10,
          rssAfterMiB: Math.round((after - base) * 10) / 10,
        },
      });
    } finally {
      for (const s of sockets) s.destroy();
      await hub.stop();
      tmp.cleanup();
    }
  });
});
