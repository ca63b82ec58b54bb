// The device's MQTT credential [P-6.4]: username = the device key in lowercase hex, password =
// "v1." + base64url(issuedAtMs || Ed25519(deviceKey, tag("mqtt-auth") || hubKey || deviceKey ||
// issuedAtMs)). Naming the hub key makes a credential for one hub worthless at another; the time
// window bounds replay. Enrolment and revocation are the hub's to check, not this module's.

import { isU64, toHex } from './bytes.js';
import { defaultBackend, type Ed25519Backend } from './crypto/index.js';
import { fail, ok, type Result } from './errors.js';
import { tag } from './hash.js';
import { validatePublicKey } from './keys.js';
import { ByteWriter } from './writer.js';

export const CREDENTIAL_PREFIX = 'v1.';
const PAYLOAD_SIZE = 8 + 64;
const PAYLOAD_CHARS = (PAYLOAD_SIZE / 3) * 4; // 96: no padding, no spare bits, so one encoding only
export const PASSWORD_LENGTH = CREDENTIAL_PREFIX.length + PAYLOAD_CHARS;
const AUTH_TAG = tag('mqtt-auth');
const DEVICE_HEX = /^[0-9a-f]{64}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** tag("mqtt-auth") || hubKey || deviceKey || issuedAtMs [P-6.4]. */
function signedMessage(hubKey: Uint8Array, deviceKey: Uint8Array, issuedAtMs: bigint): Uint8Array {
  return new ByteWriter(AUTH_TAG.length + 32 + 32 + 8)
    .fixed(AUTH_TAG, AUTH_TAG.length, 'tag')
    .fixed(hubKey, 32, 'hubKey')
    .fixed(deviceKey, 32, 'deviceKey')
    .u64(issuedAtMs, 'issuedAtMs')
    .finish();
}

/** The username and password a device presents to the broker [P-6.4]. Throws on bad arguments. */
export function makeMqttCredential(args: {
  hubKey: Uint8Array;
  deviceSecretKey: Uint8Array;
  devicePublicKey: Uint8Array;
  issuedAtMs: bigint;
  backend?: Ed25519Backend;
}): { username: string; password: string } {
  const { hubKey, deviceSecretKey, devicePublicKey, issuedAtMs, backend = defaultBackend } = args;
  const signature = backend.sign(signedMessage(hubKey, devicePublicKey, issuedAtMs), deviceSecretKey);
  const payload = new ByteWriter(PAYLOAD_SIZE).u64(issuedAtMs, 'issuedAtMs').fixed(signature, 64, 'signature').finish();
  return { username: toHex(devicePublicKey), password: CREDENTIAL_PREFIX + Buffer.from(payload).toString('base64url') };
}

/**
 * Checks a credential presented to the broker [P-6.4], cheapest checks first: username (DECODE_FIELD,
 * KEY_*), password form (DECODE_EMPTY, DECODE_TOO_LARGE, DECODE_VERSION, DECODE_FIELD,
 * DECODE_TRUNCATED), |nowMs - issuedAtMs| <= windowMs (CREDENTIAL_WINDOW), then the signature
 * (SIG_INVALID). Never throws.
 */
export function verifyMqttCredential(args: {
  hubKey: Uint8Array;
  username: unknown;
  password: unknown;
  nowMs: bigint;
  windowMs: bigint;
  backend?: Ed25519Backend;
}): Result<{ deviceKey: Uint8Array; issuedAtMs: bigint }> {
  const { hubKey, username, password, nowMs, windowMs, backend = defaultBackend } = args;
  if (typeof username !== 'string' || !DEVICE_HEX.test(username))
    return fail('DECODE_FIELD', 'username is not 64 lowercase hex');
  const deviceKey = Uint8Array.from(Buffer.from(username, 'hex'));
  const key = validatePublicKey(deviceKey);
  if (!key.ok) return key;

  if (typeof password !== 'string') return fail('DECODE_FIELD', 'password is not a string');
  if (password.length === 0) return fail('DECODE_EMPTY');
  if (password.length > PASSWORD_LENGTH) return fail('DECODE_TOO_LARGE', `password of ${password.length} characters`);
  if (!password.startsWith(CREDENTIAL_PREFIX)) return fail('DECODE_VERSION', 'password does not start with v1.');
  const encoded = password.slice(CREDENTIAL_PREFIX.length);
  if (!BASE64URL.test(encoded)) return fail('DECODE_FIELD', 'password is not base64url');
  if (encoded.length < PAYLOAD_CHARS) return fail('DECODE_TRUNCATED', `password of ${password.length} characters`);
  const payload = Buffer.from(encoded, 'base64url');
  const issuedAtMs = payload.readBigUInt64BE(0);
  const signature = Uint8Array.from(payload.subarray(8));

  if (typeof nowMs !== 'bigint' || typeof windowMs !== 'bigint' || !isU64(nowMs) || !isU64(windowMs)) {
    return fail('U64_OVERFLOW', 'nowMs and windowMs must be u64 bigints');
  }
  const skew = nowMs > issuedAtMs ? nowMs - issuedAtMs : issuedAtMs - nowMs;
  if (skew > windowMs) return fail('CREDENTIAL_WINDOW', `issued ${issuedAtMs}, now ${nowMs}`);

  if (!(hubKey instanceof Uint8Array) || hubKey.length !== 32) return fail('KEY_LENGTH', 'hubKey');
  if (!backend.verify(signature, signedMessage(hubKey, deviceKey, issuedAtMs), deviceKey)) return fail('SIG_INVALID');
  return ok({ deviceKey, issuedAtMs });
}
