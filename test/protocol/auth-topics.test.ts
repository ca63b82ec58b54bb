import { describe, expect, it } from 'vitest';
import {
  backends,
  clientIdForDevice,
  clientIdForHub,
  deviceAcl,
  HUB_UPLINK_FILTER,
  LEGACY_UPLINK_FILTER,
  legacyTopics,
  partitionOf,
  partitionUplinkFilter,
  makeMqttCredential,
  parseTopic,
  tag,
  toHex,
  topics,
  verifyMqttCredential,
} from '../../protocol/index.js';
import { device, hub, otherDevice } from './fixtures.js';

const codeOf = (r: { ok: boolean; code?: string }) => (r.ok ? 'ok' : r.code);
const issuedAtMs = 1_700_000_000_000n;
const cred = makeMqttCredential({
  hubKey: hub.publicKey,
  deviceSecretKey: device.secretKey,
  devicePublicKey: device.publicKey,
  issuedAtMs,
});
const check = (over: Partial<Parameters<typeof verifyMqttCredential>[0]> = {}) =>
  verifyMqttCredential({ hubKey: hub.publicKey, ...cred, nowMs: issuedAtMs + 1000n, windowMs: 60_000n, ...over });

describe('broker credential [P-6.4]', () => {
  it('is the device hex and v1. + base64url(issuedAtMs || signature)', () => {
    expect(cred.username).toBe(toHex(device.publicKey));
    expect(cred.password.startsWith('v1.')).toBe(true);
    expect(cred.password).toHaveLength(3 + 96);
    const payload = Buffer.from(cred.password.slice(3), 'base64url');
    expect(payload.length).toBe(72);
    expect(payload.readBigUInt64BE(0)).toBe(issuedAtMs);
    const message = new Uint8Array(
      Buffer.concat([tag('mqtt-auth'), hub.publicKey, device.publicKey, payload.subarray(0, 8)]),
    );
    for (const backend of backends) expect(backend.verify(payload.subarray(8), message, device.publicKey)).toBe(true);
  });

  it('verifies within the window, either side of the hub clock', () => {
    expect(check()).toEqual({ ok: true, value: { deviceKey: device.publicKey, issuedAtMs } });
    expect(codeOf(check({ nowMs: issuedAtMs - 60_000n }))).toBe('ok');
    expect(codeOf(check({ nowMs: issuedAtMs + 60_001n }))).toBe('CREDENTIAL_WINDOW');
    expect(codeOf(check({ nowMs: issuedAtMs - 60_001n }))).toBe('CREDENTIAL_WINDOW');
  });

  it('is worthless at another hub or under another username', () => {
    expect(codeOf(check({ hubKey: otherDevice.publicKey }))).toBe('SIG_INVALID');
    expect(codeOf(check({ username: toHex(otherDevice.publicKey) }))).toBe('SIG_INVALID');
  });

  it('rejects malformed usernames and passwords with their codes', () => {
    expect(codeOf(check({ username: cred.username.toUpperCase() }))).toBe('DECODE_FIELD');
    expect(codeOf(check({ username: 42 }))).toBe('DECODE_FIELD');
    expect(codeOf(check({ username: '00'.repeat(32) }))).toBe('KEY_SMALL_ORDER');
    expect(codeOf(check({ password: '' }))).toBe('DECODE_EMPTY');
    expect(codeOf(check({ password: Buffer.from('x') }))).toBe('DECODE_FIELD');
    expect(codeOf(check({ password: `${cred.password}A` }))).toBe('DECODE_TOO_LARGE');
    expect(codeOf(check({ password: `v2.${cred.password.slice(3)}` }))).toBe('DECODE_VERSION');
    expect(codeOf(check({ password: `${cred.password.slice(0, -1)}=` }))).toBe('DECODE_FIELD');
    expect(codeOf(check({ password: cred.password.slice(0, -4) }))).toBe('DECODE_TRUNCATED');
    const last = cred.password.at(-1) === 'A' ? 'B' : 'A';
    expect(codeOf(check({ password: cred.password.slice(0, -1) + last }))).toBe('SIG_INVALID');
  });
});

describe('topics [P-6.1, P-6.2]', () => {
  const dev = toHex(device.publicKey);
  it('names the four topics of a device', () => {
    const p = partitionOf(dev);
    expect(topics.segment(dev)).toBe(`tally/v1/p/${p}/d/${dev}/up/seg`);
    expect(topics.status(dev)).toBe(`tally/v1/p/${p}/d/${dev}/up/status`);
    expect(legacyTopics.segment(dev)).toBe(`tally/v1/d/${dev}/up/seg`);
    expect(legacyTopics.status(dev)).toBe(`tally/v1/d/${dev}/up/status`);
    expect(topics.receipt(dev)).toBe(`tally/v1/d/${dev}/down/receipt`);
    expect(topics.control(dev)).toBe(`tally/v1/d/${dev}/down/ctl`);
    expect(HUB_UPLINK_FILTER).toBe('tally/v1/p/+/d/+/up/#');
    expect(LEGACY_UPLINK_FILTER).toBe('tally/v1/d/+/up/#');
    expect(partitionUplinkFilter(7)).toBe('tally/v1/p/7/d/+/up/#');
    expect(() => partitionUplinkFilter(256)).toThrow(RangeError);
    expect(deviceAcl(dev)).toEqual({ publish: `tally/v1/p/${p}/d/${dev}/up/#`, subscribe: `tally/v1/d/${dev}/down/#` });
    expect(clientIdForDevice(dev)).toBe(`tally-${dev}`);
    expect(clientIdForHub('site-1', 0)).toBe('tally-hub-site-1-0');
  });

  it('parses its own topics back', () => {
    for (const [make, kind] of [
      [topics.segment, 'seg'],
      [topics.status, 'status'],
      [topics.receipt, 'receipt'],
      [topics.control, 'ctl'],
    ] as const) {
      const layout = kind === 'seg' || kind === 'status' ? 'partitioned' : 'legacy';
      expect(parseTopic(make(dev))).toEqual({ deviceHex: dev, kind, partition: partitionOf(dev), layout });
    }
    // Topic layout 1 uplinks, as agents before the partition level publish [P-6.7].
    expect(parseTopic(legacyTopics.segment(dev))).toEqual({
      deviceHex: dev,
      kind: 'seg',
      partition: partitionOf(dev),
      layout: 'legacy',
    });
  });

  it('rejects anything else', () => {
    const bad = [
      '',
      'tally/v1/d',
      `tally/v1/d/${dev}/up/ctl`,
      `tally/v1/d/${dev}/down/seg`,
      `tally/v2/d/${dev}/up/seg`,
      `tally/v1/d/${dev.toUpperCase()}/up/seg`,
      `tally/v1/d/${dev.slice(1)}/up/seg`,
      `tally/v1/d/${dev}/up/seg/x`,
      `tally/v1/d/+/up/seg`,
      `tally/v1/d/${dev}/up/toString`,
      `tally/v1/d/${dev}/up/__proto__`,
      // The partition level: only the device's own partition, in canonical decimal, on uplinks.
      `tally/v1/p/${(partitionOf(dev) + 1) % 256}/d/${dev}/up/seg`,
      `tally/v1/p/0${partitionOf(dev)}/d/${dev}/up/seg`,
      `tally/v1/p/+/d/${dev}/up/seg`,
      `tally/v1/p/${partitionOf(dev)}/d/${dev}/down/receipt`,
      `tally/v1/p/${partitionOf(dev)}/x/${dev}/up/seg`,
      `tally/v1/p/${partitionOf(dev)}/d/${dev}/up`,
    ];
    for (const t of bad) expect(parseTopic(t), t).toBeUndefined();
    expect(parseTopic(7 as unknown as string)).toBeUndefined();
    expect(() => topics.segment('+')).toThrow(TypeError);
  });
});
