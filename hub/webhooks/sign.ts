// Signing webhook requests the Standard Webhooks way (standardwebhooks.com, spec 1.0.0): three
// headers, webhook-id (the event id, the receiver's idempotency key), webhook-timestamp (Unix
// seconds) and webhook-signature ("v1," + base64 HMAC-SHA256 over "id.timestamp.body" keyed with
// the secret's bytes). Secrets are "whsec_" + base64 of 24..64 random bytes. docs/webhooks.md
// says why this scheme and gives receivers a verification snippet.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new secret: 32 random bytes. */
export const newSecret = (): string => PREFIX + randomBytes(32).toString('base64');

/** The key bytes of a "whsec_..." secret, or undefined when it is not one. */
export function secretKey(secret: string): Uint8Array | undefined {
  const t = secret.trim();
  if (!t.startsWith(PREFIX)) return undefined;
  const b64 = t.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
  const key = Buffer.from(b64, 'base64');
  return key.length >= 24 && key.length <= 64 ? key : undefined;
}

export function signature(key: Uint8Array, id: string, timestampSec: number, body: string): string {
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestampSec}.${body}`).digest('base64');
}

/** The three headers of one attempt (a retry is signed again, with its own timestamp). */
export function signedHeaders(key: Uint8Array, id: string, timestampSec: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': signature(key, id, timestampSec, body),
  };
}

/**
 * What a receiver does (and the tests): true when one of the space-separated signatures matches
 * and the timestamp is within `toleranceSec` of `nowSec` (a replay of an old request fails).
 */
export function verifySignature(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  nowSec: number,
  toleranceSec = 300,
): boolean {
  const key = secretKey(secret);
  const ts = Number(headers.timestamp);
  if (!key || !/^\d{1,12}$/.test(headers.timestamp) || Math.abs(nowSec - ts) > toleranceSec) return false;
  const expected = Buffer.from(signature(key, headers.id, ts, body));
  return headers.signature.split(' ').some((s) => {
    const given = Buffer.from(s);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
