// Partitions of a fleet [P-6.7]: the unit of work a hub takes on when several hubs share one broker.
// A device belongs to partition H(tag("partition") || deviceKey)[0], one of 256, forever; the
// device names it in its uplink topics (topics.ts) so a hub subscribes to the partitions it owns
// and to nothing else. Pure logic, no state beyond a small cache.

import { fromHex, toHex } from './bytes.js';
import { taggedHash } from './hash.js';

/** Partitions in every Tally network [P-6.7]: fixed, so a device and every hub agree without
 *  configuration. 256 allows 256 hubs to share one fleet, more than one PostgreSQL primary feeds. */
export const PARTITION_COUNT = 256;

const DEVICE_HEX = /^[0-9a-f]{64}$/;

// The hub computes a device's partition for every uplink (topic check) and the agent for every
// publish; the hash runs once per device.
const cache = new Map<string, number>();
const CACHE_LIMIT = 100_000;

/**
 * The partition of a device [P-6.7]: the first byte of H(tag("partition") || deviceKey). A byte of
 * a SHA-256 output is uniform over 0..255 whatever the key's structure (an Ed25519 public key is a
 * compressed point, whose last byte carries the sign bit), so partitions hold equal shares of a
 * fleet; the tag keeps the value apart from every other hash of the key.
 * Takes the 32-byte key or its 64 lowercase hex characters; throws a TypeError on anything else.
 */
export function partitionOf(deviceKey: Uint8Array | string): number {
  let hex: string;
  let key: Uint8Array;
  if (typeof deviceKey === 'string') {
    if (!DEVICE_HEX.test(deviceKey)) throw new TypeError('a device key is 64 lowercase hex characters');
    hex = deviceKey;
    const hit = cache.get(hex);
    if (hit !== undefined) return hit;
    key = fromHex(hex)!;
  } else {
    if (!(deviceKey instanceof Uint8Array) || deviceKey.length !== 32) throw new TypeError('a device key is 32 bytes');
    key = deviceKey;
    hex = toHex(key);
    const hit = cache.get(hex);
    if (hit !== undefined) return hit;
  }
  const p = taggedHash('partition', key)[0]!;
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(hex, p);
  return p;
}

/** True for an integer partition number 0..255. */
export function isPartition(p: unknown): p is number {
  return typeof p === 'number' && Number.isInteger(p) && p >= 0 && p < PARTITION_COUNT;
}

/**
 * A set of partitions from text: `all`, or comma-separated numbers and ranges, e.g. `0-31,40`.
 * Returns the sorted partitions, or an error that says what is wrong.
 */
export function parsePartitionSet(text: string): { ok: true; value: number[] } | { ok: false; error: string } {
  const t = text.trim();
  if (t === 'all') return { ok: true, value: Array.from({ length: PARTITION_COUNT }, (_, i) => i) };
  if (t === '') return { ok: false, error: 'empty partition set (use all, or e.g. 0-31,40)' };
  const out = new Set<number>();
  for (const part of t.split(',')) {
    const m = /^\s*(\d{1,3})(?:\s*-\s*(\d{1,3}))?\s*$/.exec(part);
    if (!m) return { ok: false, error: `not a partition or a range: "${part}"` };
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (!isPartition(lo) || !isPartition(hi)) {
      return { ok: false, error: `partitions are 0-${PARTITION_COUNT - 1}: "${part.trim()}"` };
    }
    if (hi < lo) return { ok: false, error: `range runs backwards: "${part.trim()}"` };
    for (let p = lo; p <= hi; p++) out.add(p);
  }
  return { ok: true, value: [...out].sort((a, b) => a - b) };
}
