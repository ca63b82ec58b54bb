// The embedded broker's access rules over a real aedes on 127.0.0.1 and real MQTT.js clients.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  HUB_UPLINK_FILTER,
  makeMqttCredential,
  toHex,
  topics,
  type KeyPair,
} from '../../protocol/index.js';
import { HUB_USERNAME } from '../../hub/broker/access.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../hub/broker/embedded.js';
import { connectDevice, connectRaw, Inbox } from './helpers/mqtt.js';

describe('embedded broker access', () => {
  const hub = generateKeyPair();
  const secret = 'internal-secret-for-test';
  let broker: EmbeddedBroker;
  let enrolled: Map<string, { revoked: boolean; credentialFloorMs: bigint }>;
  let rejects: { reason: string; device: string | null }[];
  let uplinks: { topic: string; payload: string }[];
  const open: { end: (force: boolean, opts: object, cb: () => void) => unknown }[] = [];

  beforeEach(async () => {
    enrolled = new Map();
    rejects = [];
    uplinks = [];
    broker = await startEmbeddedBroker({
      listen: { host: '127.0.0.1', port: 0 },
      policy: {
        hubKey: hub.publicKey,
        brokerSecret: secret,
        credentialWindowMs: 60_000,
        deviceStatus: (hex) => enrolled.get(hex),
        credentialUsed: (hex, issuedAtMs) => {
          const d = enrolled.get(hex);
          if (d) d.credentialFloorMs = issuedAtMs;
        },
      },
      events: {
        onReject: (reason, device) => rejects.push({ reason, device }),
        onDeviceSubscribed: () => {},
        onDeviceConnected: () => {},
        onDeviceDisconnected: () => {},
        onUplink: (topic, payload) => uplinks.push({ topic, payload: Buffer.from(payload).toString() }),
      },
    });
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await new Promise<void>((r) => c.end(true, {}, () => r()));
    await broker.close();
  });

  function device(): KeyPair {
    const kp = generateKeyPair();
    enrolled.set(toHex(kp.publicKey), { revoked: false, credentialFloorMs: 0n });
    return kp;
  }

  async function hubClient() {
    const c = connectRaw(broker.url, { clientId: 'tally-hub-test-1', username: HUB_USERNAME, password: secret });
    open.push(c.client);
    expect(await c.result).toEqual({ ok: true });
    return c.client;
  }

  it('answers an MQTT 5 CONNECT with "unacceptable protocol version": MQTT 3.1.1 only [P-6.1]', async () => {
    const dev = device();
    const { username, password } = makeMqttCredential({
      hubKey: hub.publicKey,
      deviceSecretKey: dev.secretKey,
      devicePublicKey: dev.publicKey,
      issuedAtMs: BigInt(Date.now()),
    });
    const c = connectRaw(broker.url, {
      protocolVersion: 5,
      clientId: `tally-${toHex(dev.publicKey)}`,
      username,
      password,
    });
    open.push(c.client);
    const r = await c.result;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(1);
  });

  it('refuses a replayed device credential and keeps the session that used it [P-6.4]', async () => {
    const dev = device();
    const cred = makeMqttCredential({
      hubKey: hub.publicKey,
      deviceSecretKey: dev.secretKey,
      devicePublicKey: dev.publicKey,
      issuedAtMs: BigInt(Date.now()),
    });
    const clientId = `tally-${toHex(dev.publicKey)}`;
    const first = connectRaw(broker.url, { clientId, ...cred });
    open.push(first.client);
    expect(await first.result).toEqual({ ok: true });
    const replay = connectRaw(broker.url, { clientId, ...cred });
    open.push(replay.client);
    const r = await replay.result;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(5);
    expect(rejects).toContainEqual({ reason: 'HUB_CREDENTIAL_REPLAYED', device: toHex(dev.publicKey) });
    expect(first.client.connected).toBe(true);
  });

  it('hands a device uplink to the hub in-process and delivers what the hub publishes to the device', async () => {
    const dev = device();
    const hex = toHex(dev.publicKey);
    const d = connectDevice(broker.url, hub.publicKey, dev);
    open.push(d.client);
    expect(await d.result).toEqual({ ok: true });
    const inbox = new Inbox(d.client);
    await d.client.subscribeAsync(`tally/v1/d/${hex}/down/#`, { qos: 1 });
    // The PUBACK comes after the broker has handed the message on.
    await d.client.publishAsync(topics.segment(hex), Buffer.from('segment-1'), { qos: 1 });
    expect(uplinks).toEqual([{ topic: topics.segment(hex), payload: 'segment-1' }]);

    broker.publish(topics.receipt(hex), Buffer.from('receipt-1'));
    const got = await inbox.next();
    expect(got.topic).toBe(topics.receipt(hex));
    expect(Buffer.from(got.payload).toString()).toBe('receipt-1');
  });

  it('lets an enrolled device publish in its uplink subtree and a hub client receive it', async () => {
    const hubc = await hubClient();
    const inbox = new Inbox(hubc);
    await hubc.subscribeAsync(HUB_UPLINK_FILTER, { qos: 1 });
    const dev = device();
    const d = connectDevice(broker.url, hub.publicKey, dev);
    open.push(d.client);
    expect(await d.result).toEqual({ ok: true });
    await d.client.publishAsync(topics.status(toHex(dev.publicKey)), Buffer.from([4, 1]), { qos: 1 });
    const got = await inbox.next();
    expect(got.topic).toBe(topics.status(toHex(dev.publicKey)));
  });

  it('refuses an unknown device, a wrong client id, an expired credential and a wrong hub secret', async () => {
    const stranger = generateKeyPair();
    const a = connectDevice(broker.url, hub.publicKey, stranger);
    open.push(a.client);
    expect((await a.result).ok).toBe(false);

    const dev = device();
    const b = connectDevice(broker.url, hub.publicKey, dev, { clientId: 'tally-someone-else' });
    open.push(b.client);
    expect((await b.result).ok).toBe(false);

    const c = connectDevice(broker.url, hub.publicKey, dev, { issuedAtMs: Date.now() - 3_600_000 });
    open.push(c.client);
    expect((await c.result).ok).toBe(false);

    const otherHub = generateKeyPair(); // a credential made for another hub is worthless here [P-6.4]
    const d = connectDevice(broker.url, otherHub.publicKey, dev);
    open.push(d.client);
    expect((await d.result).ok).toBe(false);

    const e = connectRaw(broker.url, { clientId: 'tally-hub-x-1', username: HUB_USERNAME, password: 'guess' });
    open.push(e.client);
    expect((await e.result).ok).toBe(false);

    expect(rejects.map((r) => r.reason)).toEqual([
      'UNKNOWN_DEVICE',
      'HUB_CLIENT_ID',
      'CREDENTIAL_WINDOW',
      'HUB_CREDENTIAL_INVALID',
      'HUB_CREDENTIAL_INVALID',
    ]);
  });

  it("confines a device: another device's downlink is refused, publishing outside its uplink disconnects it", async () => {
    const dev = device();
    const other = device();
    const d = connectDevice(broker.url, hub.publicKey, dev);
    open.push(d.client);
    expect((await d.result).ok).toBe(true);
    const own = await d.client.subscribeAsync(`tally/v1/d/${toHex(dev.publicKey)}/down/#`, { qos: 1 });
    expect(own[0]!.qos).toBe(1);
    // A refused filter comes back as SUBACK 0x80, which MQTT.js reports as a subscribe error.
    await expect(d.client.subscribeAsync(`tally/v1/d/${toHex(other.publicKey)}/down/#`, { qos: 1 })).rejects.toThrow();
    await expect(d.client.subscribeAsync('tally/v1/d/+/down/#', { qos: 1 })).rejects.toThrow();

    const closed = new Promise<void>((r) => d.client.once('close', () => r()));
    d.client.publish(topics.segment(toHex(other.publicKey)), Buffer.from([1]), { qos: 1 });
    await closed;
    expect(rejects.filter((r) => r.reason === 'HUB_TOPIC_DENIED')).toHaveLength(3);
    expect(uplinks).toEqual([]);
  });

  it('disconnects a revoked device and refuses it afterwards', async () => {
    const dev = device();
    const d = connectDevice(broker.url, hub.publicKey, dev);
    open.push(d.client);
    expect((await d.result).ok).toBe(true);
    const closed = new Promise<void>((r) => d.client.once('close', () => r()));
    enrolled.set(toHex(dev.publicKey), { revoked: true, credentialFloorMs: 0n });
    broker.disconnectDevice(toHex(dev.publicKey));
    await closed;
    const again = connectDevice(broker.url, hub.publicKey, dev);
    open.push(again.client);
    expect((await again.result).ok).toBe(false);
    expect(rejects.at(-1)!.reason).toBe('HUB_DEVICE_REVOKED');
  });
});
