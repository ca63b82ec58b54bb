// Who may connect to the embedded broker and where they may publish or subscribe [P-6.1, P-6.2,
// P-6.4]. Pure logic: no sockets, no aedes; hub/broker/embedded.ts wires it into aedes hooks and
// test/hub/access.test.ts checks it without a network.

import { partitionOf, toHex, verifyMqttCredential } from '../../protocol/index.js';
import type { HubReasonCode } from '../base/reasons.js';

/** The username of the hub's own MQTT client; its password is the data dir's broker secret. */
export const HUB_USERNAME = 'tally-hub';
const TOPIC_PREFIX = 'tally/v1/d/';
const PARTITIONED_PREFIX = 'tally/v1/p/';

export type Session = { role: 'hub' } | { role: 'device'; deviceHex: string };

/** Why the broker refuses: the hub's own codes, and the protocol's where the protocol names the
 *  case (an unknown key, a credential outside the window [P-6.4, P-9]). */
export type BrokerRefusal = HubReasonCode | 'UNKNOWN_DEVICE' | 'CREDENTIAL_WINDOW';

export type AuthResult =
  | { ok: true; session: Session; /** A device credential's issuedAtMs: the device's new floor. */ issuedAtMs?: bigint }
  | { ok: false; reason: BrokerRefusal; detail?: string };

export interface AccessPolicy {
  hubKey: Uint8Array;
  brokerSecret: string;
  credentialWindowMs: number;
  /** Enrolment lookup: undefined when the key is not enrolled. `credentialFloorMs`: issuedAtMs of
   *  the newest credential accepted for the device so far. */
  deviceStatus(deviceHex: string): { revoked: boolean; credentialFloorMs: bigint } | undefined;
  /** A device credential was accepted: later ones must be newer [P-6.4]. */
  credentialUsed(deviceHex: string, issuedAtMs: bigint): void;
}

/** Constant-time string comparison for the internal secret. */
function secretEquals(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export function authenticate(
  policy: AccessPolicy,
  clientId: string,
  username: string | undefined,
  password: Uint8Array | undefined,
  nowMs: number,
): AuthResult {
  const passwordText = password ? Buffer.from(password).toString('utf8') : '';
  if (username === HUB_USERNAME) {
    if (!clientId.startsWith('tally-hub-'))
      return { ok: false, reason: 'HUB_CLIENT_ID', detail: clientId.slice(0, 80) };
    if (!secretEquals(passwordText, policy.brokerSecret))
      return { ok: false, reason: 'HUB_CREDENTIAL_INVALID', detail: 'hub secret' };
    return { ok: true, session: { role: 'hub' } };
  }
  if (username === undefined || !/^[0-9a-f]{64}$/.test(username)) {
    return { ok: false, reason: 'HUB_CREDENTIAL_INVALID', detail: 'username is not a device key in lowercase hex' };
  }
  // [P-6.2] the client id names the same key as the credential, so one device cannot take over
  // (and disconnect) another device's session.
  if (clientId !== `tally-${username}`) return { ok: false, reason: 'HUB_CLIENT_ID', detail: clientId.slice(0, 80) };
  const status = policy.deviceStatus(username);
  if (!status) return { ok: false, reason: 'UNKNOWN_DEVICE' };
  if (status.revoked) return { ok: false, reason: 'HUB_DEVICE_REVOKED' };
  // The window is checked after the signature (verifyMqttCredential checks it before), so only a
  // credential the device really signed is told it is merely late: CREDENTIAL_WINDOW [P-6.4] is a
  // clock or rotation problem, not an attack.
  const verdict = verifyMqttCredential({
    hubKey: policy.hubKey,
    username,
    password: passwordText,
    nowMs: BigInt(nowMs),
    windowMs: 1n << 62n,
  });
  if (!verdict.ok) return { ok: false, reason: 'HUB_CREDENTIAL_INVALID', detail: verdict.code };
  if (toHex(verdict.value.deviceKey) !== username)
    return { ok: false, reason: 'HUB_CREDENTIAL_INVALID', detail: 'key mismatch' };
  const skew = verdict.value.issuedAtMs - BigInt(nowMs);
  const abs = skew < 0n ? -skew : skew;
  if (abs > BigInt(policy.credentialWindowMs)) {
    return { ok: false, reason: 'CREDENTIAL_WINDOW', detail: `issued ${skew} ms from hub time` };
  }
  // [P-6.4] a credential works once: one seen on the wire and replayed (or any older one) is
  // refused, and the session holding the client id stays, instead of being taken over.
  const issuedAtMs = verdict.value.issuedAtMs;
  if (issuedAtMs <= status.credentialFloorMs) {
    return {
      ok: false,
      reason: 'HUB_CREDENTIAL_REPLAYED',
      detail: `issued at ${issuedAtMs}, newest used ${status.credentialFloorMs}`,
    };
  }
  return { ok: true, session: { role: 'device', deviceHex: username }, issuedAtMs };
}

/** [P-6.1, P-6.7] a device publishes only on its own uplinks: tally/v1/p/{its partition}/d/{dev}/up/...
 *  or, from agents of topic layout 1, tally/v1/d/{dev}/up/...; the hub anywhere under tally/v1/. */
export function mayPublish(session: Session, topic: string): boolean {
  if (topic.includes('+') || topic.includes('#')) return false;
  if (session.role === 'hub') return topic.startsWith('tally/v1/');
  const dev = session.deviceHex;
  for (const prefix of [`${PARTITIONED_PREFIX}${partitionOf(dev)}/d/${dev}/up/`, `${TOPIC_PREFIX}${dev}/up/`]) {
    if (topic.length > prefix.length && topic.startsWith(prefix)) return true;
  }
  return false;
}

/** [P-6.1] a device subscribes only inside tally/v1/d/{dev}/down/; the hub to the uplinks. */
export function maySubscribe(session: Session, filter: string): boolean {
  if (session.role === 'hub') return filter.startsWith('tally/v1/');
  const prefix = `${TOPIC_PREFIX}${session.deviceHex}/down/`;
  return filter.length > prefix.length && filter.startsWith(prefix);
}
