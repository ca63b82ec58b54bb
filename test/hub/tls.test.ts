// TLS and WebSocket on the embedded broker, and HTTPS on the API, with the certificates that
// `tally-hub tls init` makes. A recording TCP proxy sits between the agent and the broker: over
// plain MQTT it sees the device key, the topics and the channel id in the vouchers (the control,
// so the sniffer can fail), over mqtts:// and wss:// none of them. The guard (connect rate, packet
// size) holds on the TLS listener as on the plain one.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../protocol/index.js';
import { openAdmin } from '../../hub/cli/admin.js';
import { hubFetch } from '../../hub/cli/hub-fetch.js';
import type { HubHandle } from '../../hub/server.js';
import { runSimulation } from '../../simulator/run.js';
import { waitFor } from '../../support/test-hub.js';
import { AgentFixture } from '../agent/helpers/agent-fixture.js';
import { connectDevice } from './helpers/mqtt.js';
import { tempDir, testHub } from './helpers/hub.js';
import { generateKeyPair } from '../../protocol/index.js';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'hub/cli.ts', ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A TCP proxy that records every byte in both directions. */
async function recordingProxy(target: { host: string; port: number }) {
  const bytes: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = netConnect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (d: Buffer) => bytes.push(Buffer.from(d)));
    upstream.on('data', (d: Buffer) => bytes.push(Buffer.from(d)));
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen: () => Buffer.concat(bytes),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** What an eavesdropper must not read: the device key, the topic names, the channel id. */
function plaintextFound(seen: Buffer, deviceHex: string, channelId: string): string[] {
  const found: string[] = [];
  if (seen.includes(deviceHex)) found.push('device key');
  if (seen.includes('tally/v1/')) found.push('topic');
  if (seen.includes(Buffer.from(fromHex(channelId)!))) found.push('channel id in a voucher');
  return found;
}

describe('TLS on the embedded broker and the API', () => {
  const tmp = tempDir('tally-tls-');
  const data = join(tmp.dir, 'data');
  const tls = join(data, 'tls');
  let hub: HubHandle;
  let init: { ca: string; serverCertificate: string; serverKey: string; caCreated: boolean; agentFlags: string };
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    const r = await cli(['tls', 'init', '--data', data, '--name', 'localhost', '--name', '127.0.0.1', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    init = JSON.parse(r.stdout) as typeof init;
    hub = await testHub(data, {
      credentialWindowMs: 600_000,
      mqttTlsListen: '127.0.0.1:0',
      mqttWsListen: '127.0.0.1:0',
      mqttWssListen: '127.0.0.1:0',
      tlsCert: init.serverCertificate,
      tlsKey: init.serverKey,
      httpTlsCert: init.serverCertificate,
      httpTlsKey: init.serverKey,
    });
  }, 60_000);
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await hub?.close();
    tmp.cleanup();
  });

  const listener = (kind: string) => hub.mqttListeners.find((l) => l.kind === kind)!;
  const ca = () => readFileSync(init.ca);

  it('tls init makes a CA and a server certificate for the names, keys 0600, and keeps the CA when run again', async () => {
    expect(init.caCreated).toBe(true);
    expect(init.agentFlags).toBe(`--broker mqtts://localhost:8883 --tls-ca ${join(tls, 'ca.pem')}`);
    const caCert = new X509Certificate(readFileSync(init.ca));
    const server = new X509Certificate(readFileSync(init.serverCertificate));
    expect(caCert.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(caCert)).toBe(true);
    expect(server.verify(caCert.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkHost('elsewhere.example')).toBeUndefined();
    expect(statSync(init.serverKey).mode & 0o777).toBe(0o600);
    expect(statSync(join(tls, 'ca-key.pem')).mode & 0o777).toBe(0o600);

    const again = JSON.parse((await cli(['tls', 'init', '--dir', join(tmp.dir, 'tls2'), '--json'])).stdout) as {
      caCreated: boolean;
    };
    expect(again.caCreated).toBe(true);
    const renewed = JSON.parse((await cli(['tls', 'init', '--dir', join(tmp.dir, 'tls2'), '--json'])).stdout) as {
      caCreated: boolean;
      caSha256: string;
    };
    expect(renewed.caCreated).toBe(false);
    const bad = await cli(['tls', 'init', '--dir', join(tmp.dir, 'tls3'), '--name', 'not a name!', '--days', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--days must be/);
  }, 60_000);

  it('the agent streams over mqtts:// and wss:// and an eavesdropper sees none of it; over mqtt:// it sees all', async () => {
    const runs: Record<string, string[]> = {};
    for (const kind of ['mqtt', 'mqtts', 'wss'] as const) {
      const proxy = await recordingProxy(listener(kind).address);
      const dev = new AgentFixture();
      await hub.core.enrol([{ publicKey: dev.deviceHex, unit: 'Wh', pricePerUnit: 2n, capacity: 1_000_000n }]);
      dev.setCounter(0n);
      const host = kind === 'mqtt' ? '127.0.0.1' : 'localhost';
      const agent = dev.start(
        { url: `${kind}://${host}:${proxy.port}`, keyPair: hub.hubKey },
        kind === 'mqtt' ? {} : { broker: { url: `${kind}://${host}:${proxy.port}`, tls: { ca: ca() } } },
      );
      await waitFor(() => agent.snapshot().channel !== undefined, `grant over ${kind}`);
      dev.setCounter(120n);
      const channel = () => hub.core.showDevice(dev.deviceHex).channelDetails[0]!;
      await waitFor(() => channel().head.cumUnits === '120', `120 units over ${kind}`);
      await waitFor(() => agent.snapshot().outboxDepth === 0, `receipts over ${kind}`);
      await dev.stop();
      dev.cleanup();
      await proxy.close();
      runs[kind] = plaintextFound(proxy.seen(), dev.deviceHex, channel().channelId);
    }
    expect(runs).toEqual({ mqtt: ['device key', 'topic', 'channel id in a voucher'], mqtts: [], wss: [] });
  }, 90_000);

  it('MQTT over plain WebSocket works too (for a proxy that adds TLS in front)', async () => {
    const device = generateKeyPair();
    await hub.core.enrol([
      { publicKey: Buffer.from(device.publicKey).toString('hex'), unit: 'Wh', pricePerUnit: 1n, capacity: 10n },
    ]);
    const { client, result } = connectDevice(listener('ws').url, hub.hubKey.publicKey, device);
    expect(await result).toEqual({ ok: true });
    client.end(true);
  });

  it('a device that does not trust the site CA cannot connect over TLS', async () => {
    const device = generateKeyPair();
    const { client, result } = connectDevice(
      `mqtts://localhost:${listener('mqtts').address.port}`,
      hub.hubKey.publicKey,
      device,
    );
    const outcome = await result;
    client.end(true);
    expect(outcome.ok).toBe(false);
    expect(String((outcome as { error: Error }).error.message)).toMatch(/self.signed|unable to verify|certificate/i);
  });

  it('the simulator runs a fleet against the hub over mqtts:// with --tls-ca', async () => {
    const report = await runSimulation({
      devices: 4,
      ratePerDevice: 20,
      durationS: 2,
      seed: 7,
      arrivals: 'constant',
      faults: {},
      remote: {
        brokerUrl: `mqtts://localhost:${listener('mqtts').address.port}`,
        hubApi: hub.httpUrl,
        adminToken: hub.adminToken,
        tlsCa: readFileSync(init.ca, 'utf8'),
      },
      batch: 16,
      batchMs: 100,
      window: 4,
      drainTimeoutS: 30,
      workers: 0,
      log: () => undefined,
    } as Parameters<typeof runSimulation>[0]);
    expect(report.ok).toBe(true);
    expect(BigInt(report.units.signed)).toBeGreaterThan(0n);
    expect(report.units.accepted).toBe(report.units.signed);
  }, 90_000);

  it('the API answers over HTTPS, and the management commands pin its certificate from hub.json', async () => {
    expect(hub.httpUrl).toMatch(/^https:\/\//);
    const admin = await openAdmin(data);
    try {
      expect(admin.mode).toBe('http');
      const devices = (await admin.listDevices()) as unknown[];
      expect(devices.length).toBeGreaterThan(0);
    } finally {
      await admin.close();
    }
    const running = JSON.parse(readFileSync(join(data, 'hub.json'), 'utf8')) as { httpCertSha256: string };
    expect(running.httpCertSha256).toBe(new X509Certificate(readFileSync(init.serverCertificate)).fingerprint256);
    // Another certificate than the recorded one is refused before the request (and its token) is written.
    await expect(hubFetch(`${hub.httpUrl}/healthz`, {}, 'AA:BB')).rejects.toThrow(/is not the one the hub recorded/);
    expect((await hubFetch(`${hub.httpUrl}/healthz`, {}, running.httpCertSha256)).status).toBe(200);
  });

  it('the TLS listener keeps the guard: an oversized packet is refused at its header', async () => {
    const before = await countOf(hub, 'HUB_PACKET_TOO_LARGE');
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: listener('mqtts').address.port,
      ca: ca(),
      servername: 'localhost',
    });
    await new Promise<void>((r, j) => socket.once('secureConnect', r).once('error', j));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => undefined);
    // A CONNECT announcing 255 MiB: the header alone is enough to refuse it.
    socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
    await closed;
    await waitFor(async () => (await countOf(hub, 'HUB_PACKET_TOO_LARGE')) > before, 'HUB_PACKET_TOO_LARGE counted');
  });
});

async function countOf(hub: HubHandle, reason: string): Promise<number> {
  const row = (
    (await hub.core.rejections({ limit: 1 })) as { counts: { reason: string; events: string | number }[] }
  ).counts.find((c) => c.reason === reason);
  return row ? Number(row.events) : 0;
}

describe('the connect rate on the TLS listener', () => {
  const tmp = tempDir('tally-tls-rate-');
  let hub: HubHandle;
  beforeAll(async () => {
    const r = await cli(['tls', 'init', '--dir', join(tmp.dir, 'tls'), '--name', '127.0.0.1', '--json']);
    const init = JSON.parse(r.stdout) as { serverCertificate: string; serverKey: string };
    hub = await testHub(join(tmp.dir, 'data'), {
      mqttTlsListen: '127.0.0.1:0',
      tlsCert: init.serverCertificate,
      tlsKey: init.serverKey,
      mqttConnectsPerSecond: 1, // a burst of 10, then 1 a second
    });
  }, 60_000);
  afterAll(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  it('refuses connections beyond the burst before their TLS handshake, and counts them', async () => {
    const port = hub.mqttListeners.find((l) => l.kind === 'mqtts')!.address.port;
    const sockets: Socket[] = [];
    // Twenty TCP connections that never start a TLS handshake: the burst of ten is admitted, the
    // rest are refused at once (a second refills one token only).
    for (let i = 0; i < 20; i++) {
      const s = netConnect(port, '127.0.0.1');
      s.on('error', () => undefined);
      sockets.push(s);
      await new Promise<void>((r) => s.once('connect', () => r()));
    }
    await waitFor(async () => (await countOf(hub, 'HUB_CONNECT_RATE')) >= 5, 'connects refused by rate');
    for (const s of sockets) s.destroy();
  }, 30_000);
});

describe('client certificates required with --tls-ca', () => {
  const tmp = tempDir('tally-tls-client-');
  const dir = join(tmp.dir, 'tls');
  let hub: HubHandle;
  let device: { certificate: string; key: string };
  beforeAll(async () => {
    const init = JSON.parse((await cli(['tls', 'init', '--dir', dir, '--name', 'localhost', '--json'])).stdout) as {
      ca: string;
      serverCertificate: string;
      serverKey: string;
    };
    const issued = await cli(['tls', 'client', 'meter-7', '--dir', dir, '--out', join(tmp.dir, 'meter-7'), '--json']);
    expect(issued.code, issued.stderr).toBe(0);
    device = JSON.parse(issued.stdout) as typeof device;
    hub = await testHub(join(tmp.dir, 'data'), {
      credentialWindowMs: 600_000,
      mqttTlsListen: '127.0.0.1:0',
      tlsCert: init.serverCertificate,
      tlsKey: init.serverKey,
      tlsCa: init.ca,
    });
  }, 60_000);
  afterAll(async () => {
    await hub?.close();
    tmp.cleanup();
  });

  it('admits a device with a certificate from the site CA, and refuses one without', async () => {
    const url = `mqtts://localhost:${hub.mqttListeners.find((l) => l.kind === 'mqtts')!.address.port}`;
    const ca = readFileSync(join(dir, 'ca.pem'));
    const key = generateKeyPair();
    await hub.core.enrol([
      { publicKey: Buffer.from(key.publicKey).toString('hex'), unit: 'Wh', pricePerUnit: 1n, capacity: 10n },
    ]);
    const without = connectDevice(url, hub.hubKey.publicKey, key, { tls: { ca } as never });
    const refused = await without.result;
    without.client.end(true);
    expect(refused.ok).toBe(false);
    const withCert = connectDevice(url, hub.hubKey.publicKey, key, {
      tls: { ca, cert: readFileSync(device.certificate), key: readFileSync(device.key) },
    });
    expect(await withCert.result).toEqual({ ok: true });
    withCert.client.end(true);
  });
});
