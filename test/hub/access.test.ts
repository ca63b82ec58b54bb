// The embedded broker's access policy as pure functions [P-6.1, P-6.2, P-6.4]: no sockets, no
// aedes (test/hub/broker.test.ts runs the same rules through a real broker).
import { describe, expect, it } from 'vitest';
import { generateKeyPair, makeMqttCredential, toHex } from '../../protocol/index.js';
import { authenticate, HUB_USERNAME, mayPublish, maySubscribe, type AccessPolicy } from '../../hub/broker/access.js';

const hub = generateKeyPair();
const dev = generateKeyPair();
const devHex = toHex(dev.publicKey);
const NOW = 1_700_000_000_000;
const policy = (
  status: { revoked: boolean; credentialFloorMs: bigint } | 'not enrolled' = { revoked: false, credentialFloorMs: 0n },
): AccessPolicy => ({
  hubKey: hub.publicKey,
  brokerSecret: 'secret',
  credentialWindowMs: 60_000,
  deviceStatus: (hex) => (hex === devHex && status !== 'not enrolled' ? status : undefined),
  credentialUsed: () => {},
});
const credential = (issuedAtMs: number) =>
  new TextEncoder().encode(
    makeMqttCredential({
      hubKey: hub.publicKey,
      deviceSecretKey: dev.secretKey,
      devicePublicKey: dev.publicKey,
      issuedAtMs: BigInt(issuedAtMs),
    }).password,
  );

describe('broker access policy', () => {
  it('lets an enrolled device in with its own client id and a fresh credential', () => {
    expect(authenticate(policy(), `tally-${devHex}`, devHex, credential(NOW), NOW)).toEqual({
      ok: true,
      session: { role: 'device', deviceHex: devHex },
      issuedAtMs: BigInt(NOW),
    });
  });

  it('refuses each kind of bad connection with its own reason', () => {
    const reason = (r: ReturnType<typeof authenticate>) => (r.ok ? 'ok' : r.reason);
    expect(reason(authenticate(policy(), 'tally-someone-else', devHex, credential(NOW), NOW))).toBe('HUB_CLIENT_ID');
    expect(reason(authenticate(policy('not enrolled'), `tally-${devHex}`, devHex, credential(NOW), NOW))).toBe(
      'UNKNOWN_DEVICE',
    );
    expect(
      reason(
        authenticate(policy({ revoked: true, credentialFloorMs: 0n }), `tally-${devHex}`, devHex, credential(NOW), NOW),
      ),
    ).toBe('HUB_DEVICE_REVOKED');
    expect(reason(authenticate(policy(), `tally-${devHex}`, devHex, credential(NOW - 120_000), NOW))).toBe(
      'CREDENTIAL_WINDOW',
    );
    expect(reason(authenticate(policy(), `tally-${devHex}`, devHex, new Uint8Array([1, 2]), NOW))).toBe(
      'HUB_CREDENTIAL_INVALID',
    );
    expect(reason(authenticate(policy(), 'tally-hub-1', HUB_USERNAME, new TextEncoder().encode('nope'), NOW))).toBe(
      'HUB_CREDENTIAL_INVALID',
    );
  });

  it('keeps a device inside its own subtree [P-6.1]', () => {
    const device = { role: 'device', deviceHex: devHex } as const;
    expect(mayPublish(device, `tally/v1/d/${devHex}/up/seg`)).toBe(true);
    expect(mayPublish(device, `tally/v1/d/${devHex}/down/ctl`)).toBe(false);
    expect(mayPublish(device, `tally/v1/d/${'ab'.repeat(32)}/up/seg`)).toBe(false);
    expect(mayPublish(device, `tally/v1/d/${devHex}/up/#`)).toBe(false);
    expect(maySubscribe(device, `tally/v1/d/${devHex}/down/#`)).toBe(true);
    expect(maySubscribe(device, `tally/v1/d/${devHex}/up/#`)).toBe(false);
    expect(maySubscribe(device, 'tally/v1/d/+/down/#')).toBe(false);
  });

  it("keeps the hub's own client under tally/v1/, shared subscriptions included", () => {
    const session = { role: 'hub' } as const;
    expect(maySubscribe(session, 'tally/v1/d/+/up/#')).toBe(true);
    expect(maySubscribe(session, '$share/hubs/tally/v1/d/+/up/#')).toBe(false);
    expect(maySubscribe(session, '#')).toBe(false);
    expect(mayPublish(session, `tally/v1/d/${devHex}/down/rcpt`)).toBe(true);
    expect(mayPublish(session, 'elsewhere/x')).toBe(false);
  });
});
