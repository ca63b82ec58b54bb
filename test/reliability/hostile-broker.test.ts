// Hostile clients of the embedded broker, run against a hub in its own process whose resident
// memory the test samples from /proc while the attack runs: CONNECTs and PUBLISHes whose fixed
// header announces hundreds of megabytes, connections that never log in, a connect flood from one
// address. Each case states its ceiling: the hub stays under baseline + CEILING_MIB while the
// attack runs and returns to within baseline + AFTER_MIB once it ends (a hub that buffered the
// announced bytes, as aedes does on its own, grew by gigabytes and kept them).
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeStatus, generateKeyPair, makeMqttCredential, toHex, topics } from '../../protocol/index.js';
import { waitFor } from '../../support/test-hub.js';
import { bareCore } from '../hub/helpers/bare-core.js';
import { TestDevice } from '../hub/helpers/device.js';
import { connectDevice, connectRaw, Inbox } from '../hub/helpers/mqtt.js';
import { tempDir, testHub } from '../hub/helpers/hub.js';
import { startHubProcess, sampleRss, type HubProcess } from './helpers/hub-process.js';
import { recorder } from './helpers/record.js';

const rec = recorder('hostile-broker');
/** Highest RSS above the baseline allowed while an attack runs, and after it. */
const CEILING_MIB = 64;
const AFTER_MIB = 24;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const portOf = (url: string) => Number(new URL(url).port);

/** The MQTT remaining-length encoding (1-4 bytes of 7 bits) [MQTT-2.2.3]. */
function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/**
 * Writes `header` then up to `bytes` zero bytes, as fast as the socket takes them, until done or
 * until the hub closes the connection. Resolves with what was written and who ended it.
 */
function stream(socket: Socket, header: Uint8Array, bytes: number): Promise<{ written: number; closedByHub: boolean }> {
  const chunk = Buffer.alloc(64 * 1024);
  return new Promise((resolve) => {
    let written = 0;
    let closed = false;
    socket.on('error', () => undefined);
    socket.once('close', () => {
      closed = true;
      resolve({ written, closedByHub: written < bytes });
    });
    const pump = () => {
      while (!closed && written < bytes) {
        written += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      if (!closed) {
        resolve({ written, closedByHub: false });
        socket.destroy();
      }
    };
    socket.write(header);
    pump();
  });
}

/** An MQTT 3.1.1 CONNECT with a clean session, username and password [MQTT-3.1]. */
function connectPacket(clientId: string, username: string, password: string): Buffer {
  const str = (v: string) => {
    const b = Buffer.from(v);
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, 0xc2, 0, 30]), // level 4, flags: username, password, clean session; keepalive 30 s
    str(clientId),
    str(username),
    str(password),
  ]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

const opened = (port: number) =>
  new Promise<Socket>((resolve, reject) => {
    const s = tcpConnect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });

describe('hostile clients of the embedded broker (hub in its own process)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let hub: HubProcess | undefined;
  let honest: TestDevice;
  /** A second enrolled device, not connected: an attacker with its own credential, or a login. */
  let other: TestDevice;

  /** Enrols two devices in the data dir, starts the hub on it and connects the honest one. */
  async function start(extra: Parameters<typeof startHubProcess>[1] = {}): Promise<HubProcess> {
    const keys = [generateKeyPair(), generateKeyPair()];
    const setup = await bareCore(tmp.dir);
    await setup.core.enrol(
      keys.map((k) => ({ publicKey: toHex(k.publicKey), unit: 'Wh', pricePerUnit: 2n, capacity: 1_000_000_000n })),
    );
    await setup.close();
    hub = await startHubProcess(tmp.dir, extra);
    honest = new TestDevice(hub.handle, keys[0]);
    other = new TestDevice(hub.handle, keys[1]);
    await honest.connect();
    // Warm the hub up (worker, commit path, receipts) before the baseline is taken.
    for (let i = 0; i < 20; i++) await honest.publish(honest.build(8));
    await honest.receiptAtLeast(160n);
    return hub;
  }

  beforeEach(async () => {
    tmp = tempDir('tally-hostile-broker-');
  });
  afterEach(async () => {
    await honest?.disconnect();
    await other?.disconnect();
    await hub?.stop();
    hub = undefined;
    tmp.cleanup();
  });

  /** Runs an attack while sampling the hub's RSS; returns baseline, peak and after (MiB). */
  async function measured<T>(
    h: HubProcess,
    attack: () => Promise<T>,
  ): Promise<{ result: T; base: number; peak: number; after: number }> {
    const base = h.rssMiB();
    const sampler = sampleRss(h.child.pid!);
    const result = await attack();
    const peak = sampler.stop();
    // The honest device still gets receipts: the hub kept serving through the attack.
    const seq = honest.head!.seq + 8n;
    await honest.publish(honest.build(8));
    await honest.receiptAtLeast(seq);
    await sleep(500); // let the hub release what the closed connections held
    return { result, base, peak, after: h.rssMiB() };
  }

  it('twelve unauthenticated connections each announce a 256 MB CONNECT and stream it', async () => {
    const h = await start();
    const header = new Uint8Array([0x10, ...remainingLength(256 * 1024 * 1024 - 1)]);
    const perConnection = 32 * 1024 * 1024;
    const m = await measured(h, () =>
      Promise.all(
        Array.from({ length: 12 }, async () => stream(await opened(portOf(h.mqttUrl)), header, perConnection)),
      ),
    );
    const refused = (await h.rejections()).HUB_PACKET_TOO_LARGE ?? 0;
    expect(m.result.every((r) => r.closedByHub)).toBe(true);
    expect(refused).toBe(12);
    expect(m.peak - m.base).toBeLessThan(CEILING_MIB);
    expect(m.after - m.base).toBeLessThan(AFTER_MIB);
    rec.record({
      case: 'twelve unauthenticated connections announce a 256 MB CONNECT and stream 32 MiB each',
      expected: `each closed at its fixed header (HUB_PACKET_TOO_LARGE); hub RSS under baseline + ${CEILING_MIB} MiB during, within ${AFTER_MIB} MiB of it after; the honest device keeps its receipts`,
      observed: `12 of 12 closed by the hub, HUB_PACKET_TOO_LARGE ${refused}; RSS baseline ${m.base.toFixed(0)} MiB, peak ${m.peak.toFixed(0)} MiB (+${(m.peak - m.base).toFixed(1)}), after ${m.after.toFixed(0)} MiB (+${(m.after - m.base).toFixed(1)}); receipts kept coming`,
      figures: {
        inputs: 12,
        rejected: refused,
        rssPeakMiB: round(m.peak - m.base),
        rssAfterMiB: round(m.after - m.base),
      },
    });
  });

  it('a logged-in device announces a 255 MiB PUBLISH and streams it', async () => {
    const h = await start();
    await other.connect(); // logged in with its own valid credential
    const socket = other.client!.stream as Socket;
    const header = new Uint8Array([0x32, ...remainingLength(255 * 1024 * 1024)]);
    const m = await measured(h, () => stream(socket, header, 96 * 1024 * 1024));
    const refused = (await h.rejections()).HUB_PACKET_TOO_LARGE ?? 0;
    expect(m.result.closedByHub).toBe(true);
    expect(refused).toBe(1);
    expect(m.peak - m.base).toBeLessThan(CEILING_MIB);
    expect(m.after - m.base).toBeLessThan(AFTER_MIB);
    rec.record({
      case: 'a logged-in device announces a 255 MiB PUBLISH and streams 96 MiB',
      expected: `closed at the fixed header (HUB_PACKET_TOO_LARGE), before decoding; RSS under baseline + ${CEILING_MIB} MiB during, within ${AFTER_MIB} MiB after`,
      observed: `closed by the hub after ${(m.result.written / 1048576).toFixed(1)} MiB written into the socket, HUB_PACKET_TOO_LARGE ${refused}; RSS baseline ${m.base.toFixed(0)} MiB, peak +${(m.peak - m.base).toFixed(1)}, after +${(m.after - m.base).toFixed(1)}`,
      figures: {
        inputs: 1,
        rejected: refused,
        rssPeakMiB: round(m.peak - m.base),
        rssAfterMiB: round(m.after - m.base),
      },
    });
  });

  it('connections that never log in are capped; the cap frees when they go', async () => {
    const h = await start({ mqttMaxPending: 16, mqttMaxPendingPerAddress: 16, mqttConnectsPerSecond: 0 });
    const tries = 200;
    const m = await measured(h, async () => {
      const sockets = await Promise.all(Array.from({ length: tries }, () => opened(portOf(h.mqttUrl))));
      const closed = new Set<Socket>();
      for (const s of sockets) s.once('close', () => closed.add(s)).on('error', () => undefined);
      await waitFor(() => closed.size >= tries - 16, `${tries - 16} connections refused`);
      const open = sockets.filter((s) => !closed.has(s)).length;
      for (const s of sockets) s.destroy();
      return open;
    });
    const refused = (await h.rejections()).HUB_CONNECT_LIMIT ?? 0;
    expect(m.result).toBe(16);
    expect(refused).toBe(tries - 16);
    expect(m.peak - m.base).toBeLessThan(CEILING_MIB);
    await other.connect(); // a login once they are gone
    rec.record({
      case: `${tries} connections that never send CONNECT against a cap of 16 pending`,
      expected:
        'the first 16 held until they go (or the connect timeout), the rest closed at once (HUB_CONNECT_LIMIT); logins work again once they are gone',
      observed: `${m.result} held, ${refused} refused with HUB_CONNECT_LIMIT; RSS peak +${(m.peak - m.base).toFixed(1)} MiB; the logged-in device kept its receipts and a new login succeeded after`,
      figures: {
        inputs: tries,
        rejected: refused,
        rssPeakMiB: round(m.peak - m.base),
        rssAfterMiB: round(m.after - m.base),
      },
    });
  });

  it('a connect flood from one address is held to its rate', async () => {
    const rate = 5; // per second, so a burst of 50
    const h = await start({ mqttConnectsPerSecond: rate });
    const tries = 300;
    const started = Date.now();
    let admitted = 0;
    let closedAtOnce = 0;
    for (let i = 0; i < tries; i++) {
      // Not a device: an admitted connection is answered with CONNACK 4 and closed, a refused one
      // is closed before any CONNACK, so the client tells the two apart without a clock.
      const c = connectRaw(h.mqttUrl, { clientId: 'flood', username: 'flood', password: 'x', connectTimeout: 5_000 });
      const r = await c.result;
      c.client.end(true);
      if (!r.ok && r.error.code === 4) admitted++;
      else if (!r.ok && /closed before CONNACK|ECONNRESET/.test(r.error.message)) closedAtOnce++;
    }
    const seconds = (Date.now() - started) / 1000;
    // A burst of ten seconds' worth, and the rate for the time the flood took.
    const allowed = 10 * rate + rate * Math.ceil(seconds + 1);
    await sleep(300); // the refusals are counted with the next group commit
    const refused = (await h.rejections()).HUB_CONNECT_RATE ?? 0;
    expect(admitted + closedAtOnce).toBe(tries);
    expect(refused).toBe(closedAtOnce);
    expect(admitted).toBeLessThanOrEqual(allowed);
    const accepted = admitted;
    rec.record({
      case: `${tries} connects in a row from one address, ${rate} per second allowed`,
      expected: `a burst of ${10 * rate}, then ${rate} per second; the rest closed at once (HUB_CONNECT_RATE)`,
      observed: `${accepted} admitted and ${refused} refused with HUB_CONNECT_RATE over ${seconds.toFixed(1)} s`,
      figures: { inputs: tries, rejected: refused },
    });
  });
});

const round = (n: number) => Math.round(n * 10) / 10;

describe('what the broker says about connections is true', () => {
  it('a device whose CONNECT is closed before the CONNACK is not counted as connected', async () => {
    const tmp = tempDir();
    const hub = await testHub(tmp.dir);
    try {
      const key = generateKeyPair();
      const hex = toHex(key.publicKey);
      await hub.core.enrol([{ publicKey: hex, unit: 'Wh', pricePerUnit: 1n, capacity: 1_000n }]);
      const connected = async () => ({
        flag: hub.core.fleet.devices.get(hex)!.connected,
        gauge: (await hub.metrics.devicesConnected.get()).values[0]?.value ?? 0,
      });
      const tries = 20;
      let wrong = 0;
      const port = portOf(hub.mqttUrl);
      for (let i = 0; i < tries; i++) {
        // The CONNECT and the end of the connection leave together, before the CONNACK comes back.
        const cred = makeMqttCredential({
          hubKey: hub.hubKey.publicKey,
          deviceSecretKey: key.secretKey,
          devicePublicKey: key.publicKey,
          issuedAtMs: BigInt(Date.now() + i),
        });
        const s = await opened(port);
        s.on('error', () => undefined);
        const closed = new Promise((r) => s.once('close', r));
        s.resume(); // read (and drop) the CONNACK, so the end of the stream is seen
        s.end(connectPacket(`tally-${hex}`, cred.username, cred.password));
        await closed;
        await sleep(200); // the broker finishes with the connection (no assertion on time)
        const now = await connected();
        if (now.flag || now.gauge !== 0) wrong++;
      }
      expect(wrong).toBe(0);
      // And the state still follows a real session, and its end.
      const d = new TestDevice(hub, key);
      await d.connect();
      expect(await connected()).toEqual({ flag: true, gauge: 1 });
      await d.disconnect();
      await waitFor(() => !hub.core.fleet.devices.get(hex)!.connected, 'disconnected');
      expect(await connected()).toEqual({ flag: false, gauge: 0 });
      rec.record({
        case: `a device's CONNECT cut before the CONNACK, ${tries} times`,
        expected:
          'connected false and tally_devices_connected 0 after each; a real session then counts 1 and 0 after it ends',
        observed: `${wrong} of ${tries} tries left the device counted as connected; a real session then 1, after it 0`,
        figures: { inputs: tries, rejected: 0 },
      });
    } finally {
      await hub.close();
      tmp.cleanup();
    }
  });

  it('a status "offline" on an open session does not mark the device offline', async () => {
    const tmp = tempDir();
    const hub = await testHub(tmp.dir);
    try {
      const d = await new TestDevice(hub).enrol();
      await d.connect();
      // Status is unsigned [P-6.6]: anyone who can publish on the device's topic (its session, a
      // replayed packet, the last will of a session taken over) can say "offline" while the device's
      // socket is open. With the embedded broker the socket decides.
      const offline = encodeStatus({
        state: 'offline',
        channelId: new Uint8Array(32),
        ackedSeq: 0n,
        outboxDepth: 0,
        deviceTimeMs: 0n,
      });
      await d.client!.publishAsync(topics.status(d.hex), Buffer.from(offline), { qos: 1 });
      // The hub handled the status before the PUBACK; a hello round trip makes sure of the order.
      await sleep(1_100); // past the GRANT repeat guard
      await d.hello();
      await d.nextControl('grant');
      expect(hub.core.fleet.devices.get(d.hex)!.connected).toBe(true);
      expect((await hub.metrics.devicesConnected.get()).values[0]?.value).toBe(1);
      await d.disconnect();
      await waitFor(() => !hub.core.fleet.devices.get(d.hex)!.connected, 'disconnected');
      rec.record({
        case: 'a status "offline" published on a device\'s open session',
        expected: 'the device stays connected: with the embedded broker the socket decides, not the unsigned status',
        observed: 'connected true and tally_devices_connected 1 after the status; false once the socket closed',
        figures: { inputs: 1 },
      });
    } finally {
      await hub.close();
      tmp.cleanup();
    }
  });
});

describe('a captured broker credential is worth nothing once used', () => {
  it('refuses a replayed login and keeps the genuine session, across a hub restart', async () => {
    const tmp = tempDir();
    let hub = await testHub(tmp.dir, { credentialWindowMs: 600_000 });
    const open: { end(force: boolean): unknown }[] = [];
    try {
      const d = await new TestDevice(hub).enrol();
      const clientId = `tally-${d.hex}`;
      const issuedAtMs = Date.now();
      const credential = (at: number) =>
        makeMqttCredential({
          hubKey: hub.hubKey.publicKey,
          deviceSecretKey: d.key.secretKey,
          devicePublicKey: d.key.publicKey,
          issuedAtMs: BigInt(at),
        });
      // The genuine device logs in; an eavesdropper on plain TCP sees this exact credential.
      const captured = credential(issuedAtMs);
      const genuine = connectRaw(hub.mqttUrl, { clientId, ...captured });
      open.push(genuine.client);
      expect(await genuine.result).toEqual({ ok: true });
      let genuineClosed = false;
      genuine.client.on('close', () => (genuineClosed = true));
      const inbox = new Inbox(genuine.client);
      await genuine.client.subscribeAsync(`tally/v1/d/${d.hex}/down/#`, { qos: 1 });

      const attempts: [string, { username: string; password: string }][] = [
        ['the captured credential, replayed', captured],
        ['an older credential of the device, within the window', credential(issuedAtMs - 60_000)],
      ];
      const codes: string[] = [];
      for (const [name, cred] of attempts) {
        const replay = connectRaw(hub.mqttUrl, { clientId, ...cred });
        open.push(replay.client);
        const r = await replay.result;
        codes.push(`${name}: ${r.ok ? 'accepted' : `CONNACK ${r.error.code}`}`);
        expect(r.ok, name).toBe(false);
        if (!r.ok) expect(r.error.code, name).toBe(5);
      }
      // The genuine session is untouched: still open, and the hub still answers it.
      const hello = encodeStatus({
        state: 'hello',
        channelId: new Uint8Array(32),
        ackedSeq: 0n,
        outboxDepth: 0,
        deviceTimeMs: 0n,
      });
      await genuine.client.publishAsync(topics.status(d.hex), Buffer.from(hello), { qos: 1 });
      await inbox.next((m) => m.topic.endsWith('/down/ctl'));
      expect(genuineClosed).toBe(false);
      expect(hub.core.fleet.devices.get(d.hex)!.connected).toBe(true);
      await hub.core.flush();
      const replayed = (await hub.core.ledger.rejectionCounts()).find(
        (c) => c.reason === 'HUB_CREDENTIAL_REPLAYED',
      )?.events;
      expect(replayed).toBe(2n);

      // After a restart the hub still knows which credential the device used last.
      genuine.client.end(true);
      await hub.close();
      hub = await testHub(tmp.dir, { credentialWindowMs: 600_000 });
      const afterRestart = connectRaw(hub.mqttUrl, { clientId, ...captured });
      open.push(afterRestart.client);
      const r = await afterRestart.result;
      expect(r.ok).toBe(false);
      const fresh = connectDevice(hub.mqttUrl, hub.hubKey.publicKey, d.key);
      open.push(fresh.client);
      expect(await fresh.result).toEqual({ ok: true });
      rec.record({
        case: 'a login replayed with a captured credential (and an older one), before and after a hub restart',
        expected:
          'refused with CONNACK 5 (HUB_CREDENTIAL_REPLAYED); the genuine session stays open and served; a fresh credential logs in',
        observed: `${codes.join('; ')}; genuine session open and answered; HUB_CREDENTIAL_REPLAYED ${replayed}; after a restart the replay ${r.ok ? 'was accepted' : 'was refused'} and a fresh login succeeded`,
        figures: { inputs: 3, rejected: 3 },
      });
    } finally {
      for (const c of open) c.end(true);
      await hub.close();
      tmp.cleanup();
    }
  });
});
