import { describe, expect, it } from 'vitest';
import {
  CHANNEL_RECORD_MAX_SIZE,
  CHANNEL_RECORD_MIN_SIZE,
  channelIdOf,
  channelRecordVersion,
  channelStateFromNumber,
  denominationOf,
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
const LONGEST_TOKEN = `eip155:1/erc20:${'a'.repeat(128 - 'eip155:1/erc20:'.length)}`;

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
    // The longest is a version-2 record with the longest currency (a CAIP-19 id of 128 bytes).
    const longest = encodeChannelRecord(
      withRecord({ network: 'n'.repeat(64), unit: 'u'.repeat(16), currency: LONGEST_TOKEN, exponent: 18 }),
    );
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
    for (const version of [0, 3, 255]) {
      badVersion[0] = version;
      expect(codeOf(decodeChannelRecord(badVersion))).toBe('DECODE_VERSION');
    }
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

describe('channel record version 2: currency and exponent [P-3.1]', () => {
  const eur = withRecord({ currency: 'EUR', exponent: 6 });

  it('puts the currency string and the exponent byte between the unit and the price', () => {
    const v1 = encodeChannelRecord(base);
    const v2 = encodeChannelRecord(eur);
    expect(v2[0]).toBe(2);
    const afterUnit = 2 + base.network.length + 64 + 1 + base.unit.length;
    expect(v2.subarray(1, afterUnit)).toEqual(v1.subarray(1, afterUnit));
    expect(v2[afterUnit]).toBe(3);
    expect(new TextDecoder().decode(v2.subarray(afterUnit + 1, afterUnit + 4))).toBe('EUR');
    expect(v2[afterUnit + 4]).toBe(6);
    expect(v2.subarray(afterUnit + 5)).toEqual(v1.subarray(afterUnit));
    expect(channelRecordVersion(eur)).toBe(2);
    expect(channelRecordVersion(base)).toBe(1);
  });

  it('round-trips, and a version-1 record decodes without currency fields', () => {
    expect(decodeChannelRecord(encodeChannelRecord(eur))).toEqual({ ok: true, value: eur });
    const v1 = decodeChannelRecord(encodeChannelRecord(base));
    expect(v1.ok && 'currency' in v1.value).toBe(false);
    expect(v1.ok && denominationOf(v1.value)).toBeUndefined();
    const token = withRecord({ currency: 'eip155:1/erc20:0x6b175474e89094c44da98b954eedeac495271d0f', exponent: 18 });
    expect(decodeChannelRecord(encodeChannelRecord(token))).toEqual({ ok: true, value: token });
  });

  it('the id commits to the currency and the exponent [P-3.2]', () => {
    const ids = [
      base,
      eur,
      withRecord({ currency: 'USD', exponent: 6 }),
      withRecord({ currency: 'EUR', exponent: 2 }),
    ].map((r) => Buffer.from(channelIdOf(r)).toString('hex'));
    expect(new Set(ids).size).toBe(4);
  });

  it('refuses a currency outside its grammar, an exponent above 18, or one without the other', () => {
    const bad: Array<[Partial<ChannelRecord>, string]> = [
      [{ currency: 'eur', exponent: 6 }, 'DECODE_FIELD'],
      [{ currency: 'EURO', exponent: 6 }, 'DECODE_FIELD'],
      [{ currency: 'E€', exponent: 6 }, 'DECODE_FIELD'],
      [{ currency: 'eip155:1/erc20', exponent: 6 }, 'DECODE_FIELD'],
      [{ currency: `${LONGEST_TOKEN}a`, exponent: 6 }, 'DECODE_FIELD'],
      [{ currency: 'EUR', exponent: 19 }, 'DECODE_FIELD'],
      [{ currency: 'EUR', exponent: 1.5 }, 'DECODE_FIELD'],
      [{ currency: 'EUR' }, 'DECODE_FIELD'],
      [{ exponent: 6 }, 'DECODE_FIELD'],
    ];
    for (const [patch, code] of bad) {
      expect(codeOf(validateChannelRecord(withRecord(patch))), JSON.stringify(patch)).toBe(code);
      expect(() => encodeChannelRecord(withRecord(patch))).toThrow(TypeError);
    }
  });

  it('decoding checks the currency and the exponent as the validator does, structure first', () => {
    const good = encodeChannelRecord(eur);
    const at = 2 + base.network.length + 64 + 1 + base.unit.length;
    const lower = good.slice();
    lower[at + 1] = 'e'.charCodeAt(0); // "eUR": right characters, wrong grammar
    expect(codeOf(decodeChannelRecord(lower))).toBe('DECODE_FIELD');
    const exponent = good.slice();
    exponent[at + 4] = 19;
    expect(codeOf(decodeChannelRecord(exponent))).toBe('DECODE_FIELD');
    const shortCurrency = good.slice();
    shortCurrency[at] = 2;
    expect(codeOf(decodeChannelRecord(shortCurrency))).toBe('DECODE_COUNT');
    expect(codeOf(decodeChannelRecord(good.subarray(0, good.length - 1)))).toBe('DECODE_TRUNCATED');
    // A version-2 record relabelled version 1 (or the reverse) never decodes to a record.
    const relabelled = good.slice();
    relabelled[0] = 1;
    expect(codeOf(decodeChannelRecord(relabelled))).not.toBe('ok');
    const v1 = encodeChannelRecord(base);
    v1[0] = 2;
    expect(codeOf(decodeChannelRecord(v1))).not.toBe('ok');
  });
});
