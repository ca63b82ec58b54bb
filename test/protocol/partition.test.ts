// Partitions [P-6.7]: the vectors (checked independently with `sha256sum` over
// "tally/v1/partition\0" || key), an even spread, and the partition set syntax of --partitions.
import { describe, expect, it } from 'vitest';
import {
  fromHex,
  isPartition,
  PARTITION_COUNT,
  parsePartitionSet,
  partitionOf,
  sha256,
  toHex,
} from '../../protocol/index.js';

const VECTORS: [key: string, partition: number][] = [
  ['00'.repeat(32), 0xfe],
  ['0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20', 0xbd],
  ['ff'.repeat(32), 0xdc],
];

describe('partitionOf [P-6.7]', () => {
  it('is the first byte of H(tag("partition") || deviceKey)', () => {
    for (const [hex, p] of VECTORS) {
      expect(partitionOf(hex), hex).toBe(p);
      expect(partitionOf(fromHex(hex)!), hex).toBe(p);
    }
  });

  it('spreads keys evenly over the 256 partitions', () => {
    const counts = new Array<number>(PARTITION_COUNT).fill(0);
    const n = 256 * 200;
    for (let i = 0; i < n; i++) {
      const key = sha256(Uint8Array.of(i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff));
      counts[partitionOf(toHex(key))]!++;
    }
    // Chi-square with 255 degrees of freedom: the 99.9th percentile is about 330.
    const expected = n / PARTITION_COUNT;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(330);
    expect(Math.min(...counts)).toBeGreaterThan(0);
  });

  it('refuses what is not a device key', () => {
    for (const bad of ['', 'ab', '00'.repeat(32).toUpperCase().replace(/0/g, 'A'), 'g'.repeat(64)]) {
      expect(() => partitionOf(bad)).toThrow(TypeError);
    }
    expect(() => partitionOf(new Uint8Array(31))).toThrow(TypeError);
  });
});

describe('partition sets', () => {
  it('reads all, numbers and ranges', () => {
    expect(parsePartitionSet('all')).toEqual({ ok: true, value: Array.from({ length: 256 }, (_, i) => i) });
    expect(parsePartitionSet('0-3,40, 7')).toEqual({ ok: true, value: [0, 1, 2, 3, 7, 40] });
    expect(parsePartitionSet('255')).toEqual({ ok: true, value: [255] });
    expect(parsePartitionSet('2-2,2')).toEqual({ ok: true, value: [2] });
  });

  it('says what is wrong', () => {
    for (const [text, why] of [
      ['', /empty/],
      ['256', /0-255/],
      ['3-1', /backwards/],
      ['a', /not a partition/],
      ['1,,2', /not a partition/],
      ['-1', /not a partition/],
    ] as const) {
      const r = parsePartitionSet(text);
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.error, text).toMatch(why);
    }
    expect(isPartition(255)).toBe(true);
    expect(isPartition(256)).toBe(false);
    expect(isPartition(1.5)).toBe(false);
  });
});
