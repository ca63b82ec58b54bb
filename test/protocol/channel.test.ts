import { describe, expect, it } from 'vitest';
import {
  CHANNEL_RECORD_MAX_SIZE,
  CHANNEL_RECORD_MIN_SIZE,
  channelIdOf,
  channelStateFromNumber,
  channelStateNumber,
  decodeChannelRecord,
  encodeChannelRecord,
  hexToBytes,
  taggedHash,
  U64_MAX,
  validateChannelRecord,
  type ChannelRecord,
} from '../../protocol/index.js';
import { makeChannel } from './fixtures.js';

const base = makeChannel().record;
const codeOf = (r: { ok: boolean; code?: string }) => (r.ok ? 'ok' : r.code);
const withRecord = (patch: Partial<ChannelRecord>): ChannelRecord => ({ ...base, ...patch });

describe('channel record [P-3.1]', () => {
  it('lays out the fields in the order of the table', () => {
    const bytes = encodeChannelRecord(base);
    expect(bytes[0]).toBe(1); // version
    expect(bytes[1]).toBe(base.network.length);
    expect(new TextDecoder().decode(bytes.subarray(2, 2 + base.network.length))).toBe('test-net');
    const afterNetwork = 2 + base.network.length;
    expect(bytes.subarray(afterNetwork, afterNetwork + 32)).toEqual(base.hubKey);
    expect(bytes.subarray(afterNetwork + 32, afterNetwork + 64)).toEqual(base.deviceKey);
    expect(bytes[afterNetwork + 64]).toBe(2); // "Wh"
    const view = new DataView(bytes.buffer);
    const u64s = afterNetwork + 64 + 3;
    expect(view.getBigUint64(u64s)).toBe(base.pricePerUnit);
    expect(view.getBigUint64(u64s + 32)).toBe(base.nonce);
    expect(bytes.length).toBe(u64s + 40);
  });

  it('round-trips, and the size bounds are those of the shortest and longest strings', () => {
    expect(decodeChannelRecord(encodeChannelRecord(base))).toEqual({ ok: true, value: base });
    const shortest = encodeChannelRecord(withRecord({ network: 'a', unit: 's' }));
    const longest = encodeChannelRecord(withRecord({ network: 'n'.repeat(64), unit: 'u'.repeat(16) }));
    expect([shortest.length, longest.length]).toEqual([CHANNEL_RECORD_MIN_SIZE, CHANNEL_RECORD_MAX_SIZE]);
  });

  it('channelId = H(tag("channel") || record) and commits to every field [P-3.2]', () => {
    const bytes = encodeChannelRecord(base);
    expect(channelIdOf(bytes)).toEqual(taggedHash('channel', bytes));
    expect(channelIdOf(base)).toEqual(channelIdOf(bytes));
    const variants: Partial<ChannelRecord>[] = [
      { network: 'other-net' },
      { unit: 'kWh' },
      { pricePerUnit: 8n },
      { capacity: 2n },
      { openedAtMs: 1n },
      { expiresAtMs: base.openedAtMs + 1n },
      { nonce: 2n },
      { hubKey: base.deviceKey },
      { deviceKey: base.hubKey },
    ];
    const ids = new Set(variants.map((v) => Buffer.from(channelIdOf(withRecord(v))).toString('hex')));
    ids.add(Buffer.from(channelIdOf(base)).toString('hex'));
    expect(ids.size).toBe(variants.length + 1);
  });

  it('rejects values outside the rules of the table', () => {
    const bad: Array<[Partial<ChannelRecord>, string]> = [
      [{ network: '' }, 'DECODE_FIELD'],
      [{ network: 'Upper' }, 'DECODE_FIELD'],
      [{ network: 'n'.repeat(65) }, 'DECODE_FIELD'],
      [{ network: 'sp ace' }, 'DECODE_FIELD'],
      [{ unit: '' }, 'DECODE_FIELD'],
      [{ unit: 'u'.repeat(17) }, 'DECODE_FIELD'],
      [{ unit: 'k€' }, 'DECODE_FIELD'],
      [{ capacity: 0n }, 'DECODE_FIELD'],
      [{ expiresAtMs: base.openedAtMs }, 'DECODE_FIELD'],
      [{ pricePerUnit: U64_MAX + 1n }, 'U64_OVERFLOW'],
      [{ nonce: -1n }, 'U64_OVERFLOW'],
      [{ hubKey: new Uint8Array(31) }, 'KEY_LENGTH'],
      [{ deviceKey: new Uint8Array(33) }, 'KEY_LENGTH'],
      [{ deviceKey: new Uint8Array(32) }, 'KEY_SMALL_ORDER'],
    ];
    for (const [patch, code] of bad) {
      expect(codeOf(validateChannelRecord(withRecord(patch))), JSON.stringify(Object.keys(patch))).toBe(code);
      expect(() => encodeChannelRecord(withRecord(patch))).toThrow(TypeError);
    }
    expect(
      codeOf(validateChannelRecord(withRecord({ unit: 'm3/h', network: 'a.b_c-9', pricePerUnit: 0n, capacity: 1n }))),
    ).toBe('ok');
  });

  it('decoding applies the same rules, structure first', () => {
    const good = encodeChannelRecord(base);
    const badVersion = good.slice();
    badVersion[0] = 2;
    expect(codeOf(decodeChannelRecord(badVersion))).toBe('DECODE_VERSION');
    const upper = good.slice();
    upper[2] = 'T'.charCodeAt(0); // network "Test-net"
    expect(codeOf(decodeChannelRecord(upper))).toBe('DECODE_FIELD');
    expect(codeOf(decodeChannelRecord(new Uint8Array([...upper, 0])))).toBe('DECODE_TRAILING');
    const noNetwork = good.slice();
    noNetwork[1] = 0;
    expect(codeOf(decodeChannelRecord(noNetwork))).toBe('DECODE_COUNT');
    const capacityZero = good.slice();
    capacityZero.fill(0, good.length - 32, good.length - 24);
    expect(codeOf(decodeChannelRecord(capacityZero))).toBe('DECODE_FIELD');
    // A non-canonical device key (y >= p) is a key failure, found after the structure.
    const nonCanonical = good.slice();
    nonCanonical.set(hexToBytes('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'), 2 + 8 + 32);
    expect(codeOf(decodeChannelRecord(nonCanonical))).toMatch(/^KEY_/);
    expect(codeOf(decodeChannelRecord(new Uint8Array(0)))).toBe('DECODE_EMPTY');
  });

  it('numbers channel states 1..4 [P-7.1]', () => {
    expect((['open', 'exhausted', 'closed', 'revoked'] as const).map(channelStateNumber)).toEqual([1, 2, 3, 4]);
    expect([0, 1, 4, 5].map(channelStateFromNumber)).toEqual([undefined, 'open', 'revoked', undefined]);
    expect(() => channelStateNumber('gone' as never)).toThrow(TypeError);
  });
});
