// SHA-256 and domain-separated hashing [P-1.3, P-1.4]. Every hash or signature input in Tally
// starts with a tag, so bytes made for one purpose can never be read as made for another.
// taggedHash runs once per voucher on both the agent and the hub: it feeds each part to one
// node:crypto hash object instead of concatenating them first.

import { createHash } from 'node:crypto';

/** The tag names of clause 1.4; a name outside this table is a compile-time error. */
export const TAG_NAMES = [
  'channel',
  'channel-sig',
  'voucher',
  'segment',
  'receipt',
  'control',
  'merkle-leaf',
  'merkle-node',
  'merkle-empty',
  'epoch',
  'mqtt-auth',
  'partition',
] as const;

export type TagName = (typeof TAG_NAMES)[number];

const TAG_PREFIX = 'tally/v1/';

// Encoded once at load: ASCII `tally/v1/<name>` then one 0x00 byte [P-1.4].
const tagBytes = new Map<string, Uint8Array>(
  TAG_NAMES.map((name) => {
    const ascii = Buffer.from(TAG_PREFIX + name, 'ascii');
    const bytes = new Uint8Array(ascii.length + 1);
    bytes.set(ascii);
    return [name, bytes];
  }),
);

function cachedTag(name: TagName): Uint8Array {
  const bytes = tagBytes.get(name);
  // Only reachable from untyped callers: the type already limits `name` to the table.
  if (bytes === undefined) throw new TypeError(`unknown tag name: ${String(name)}`);
  return bytes;
}

/**
 * The bytes of `tally/v1/<name>` followed by 0x00 [P-1.4]. Returns a fresh copy of the cached
 * encoding: a caller that mutated a shared instance would silently break domain separation for
 * every other caller.
 */
export function tag(name: TagName): Uint8Array {
  return cachedTag(name).slice();
}

function digestOf(hash: ReturnType<typeof createHash>): Uint8Array {
  const digest = hash.digest();
  // A plain Uint8Array view over the digest's memory (no copy), so callers never see a Buffer.
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** H(part_1 || ... || part_n), SHA-256 [P-1.3], without concatenating the parts. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return digestOf(hash);
}

/** H(tag(name) || part_1 || ... || part_n) [P-1.4]. */
export function taggedHash(name: TagName, ...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  hash.update(cachedTag(name));
  for (const part of parts) hash.update(part);
  return digestOf(hash);
}
