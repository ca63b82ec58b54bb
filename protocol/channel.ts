// The channel opening record and the channel id [P-3]. The id is the tagged hash of the canonical
// record, so it commits to the network, both keys, the unit and the price: a voucher made for one
// channel, hub or network can never be counted for another [P-3.2].

import { isU64 } from './bytes.js';
import { fail, ok, type Result } from './errors.js';
import { taggedHash } from './hash.js';
import { validatePublicKey } from './keys.js';
import { CURRENCY_MAX, isCurrency, isExponent, type Denomination } from './money.js';
import { runDecoder, type ByteReader } from './reader.js';
import { ByteWriter, stringSize } from './writer.js';

export interface ChannelRecord {
  network: string;
  hubKey: Uint8Array;
  deviceKey: Uint8Array;
  unit: string;
  /**
   * Version 2 only, both or neither [P-3.1]: the currency (ISO 4217 code or CAIP-19 token id) and
   * the exponent of its minor unit. A record without them is version 1 and encodes as before.
   */
  currency?: string;
  exponent?: number;
  pricePerUnit: bigint;
  capacity: bigint;
  openedAtMs: bigint;
  expiresAtMs: bigint;
  nonce: bigint;
}

/** Channel lifecycle as carried by GRANT and CAPACITY [P-7.1, P-7.3]. */
export type ChannelState = 'open' | 'exhausted' | 'closed' | 'revoked';

// [P-3.1] alphabets and lengths. The network string is also used by the epoch record [P-8.4].
export const NETWORK_PATTERN = /^[a-z0-9._-]{1,64}$/;
export const UNIT_PATTERN = /^[A-Za-z0-9/_.-]{1,16}$/;
export const NETWORK_MAX = 64;
export const UNIT_MAX = 16;
/** The version a hub opens channels with; version 1 (no currency) is still read and verified. */
export const CHANNEL_RECORD_VERSION = 2;
export const CHANNEL_RECORD_VERSIONS: readonly number[] = [1, 2];
const FIXED_PART = 1 + 32 + 32 + 5 * 8;
/** Smallest and largest encodings: version 1 with strings of 1, version 2 with the longest strings. */
export const CHANNEL_RECORD_MIN_SIZE = FIXED_PART + 2 + 2;
export const CHANNEL_RECORD_MAX_SIZE = FIXED_PART + 2 + NETWORK_MAX + UNIT_MAX + 1 + CURRENCY_MAX + 1;

/** The record's version follows from its fields: a currency makes it version 2 [P-3.1]. */
export const channelRecordVersion = (r: ChannelRecord): 1 | 2 => (r.currency === undefined ? 1 : 2);

/** The currency terms of a record, or undefined for a version-1 record. */
export function denominationOf(r: ChannelRecord): Denomination | undefined {
  return r.currency === undefined || r.exponent === undefined
    ? undefined
    : { currency: r.currency, exponent: r.exponent };
}

const isKeyBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === 32;

/** The field rules of [P-3.1] that apply to values, shared by the validator and the decoder. */
function fieldProblem(r: ChannelRecord): string | undefined {
  if (typeof r.network !== 'string' || !NETWORK_PATTERN.test(r.network)) return 'network outside [a-z0-9._-]{1,64}';
  if (typeof r.unit !== 'string' || !UNIT_PATTERN.test(r.unit)) return 'unit outside [A-Za-z0-9/_.-]{1,16}';
  if ((r.currency === undefined) !== (r.exponent === undefined))
    return 'currency and exponent come together (version 2) or not at all (version 1)';
  if (r.currency !== undefined && !isCurrency(r.currency))
    return 'currency is neither an ISO 4217 code ([A-Z]{3}) nor a CAIP-19 asset id of at most 128 bytes';
  if (r.exponent !== undefined && !isExponent(r.exponent)) return 'exponent not in 0..18';
  if (r.capacity < 1n) return 'capacity must be >= 1';
  if (r.expiresAtMs !== 0n && r.expiresAtMs <= r.openedAtMs) return 'expiresAtMs must be 0 or > openedAtMs';
  return undefined;
}

/**
 * Checks every rule of [P-3.1]: u64 ranges (U64_OVERFLOW), alphabets and value rules
 * (DECODE_FIELD), key lengths (KEY_LENGTH) and the device key itself [P-2.3] (KEY_*).
 */
export function validateChannelRecord(r: ChannelRecord): Result<ChannelRecord> {
  if (typeof r !== 'object' || r === null) return fail('DECODE_FIELD', 'not a channel record');
  for (const name of ['pricePerUnit', 'capacity', 'openedAtMs', 'expiresAtMs', 'nonce'] as const) {
    if (typeof r[name] !== 'bigint' || !isU64(r[name])) return fail('U64_OVERFLOW', `${name} is not a u64`);
  }
  const problem = fieldProblem(r);
  if (problem !== undefined) return fail('DECODE_FIELD', problem);
  if (!isKeyBytes(r.hubKey)) return fail('KEY_LENGTH', 'hubKey');
  const device = validatePublicKey(r.deviceKey);
  if (!device.ok) return fail(device.code, `deviceKey${device.detail ? `: ${device.detail}` : ''}`);
  return ok(r);
}

export function channelRecordSize(r: ChannelRecord): number {
  const terms = r.currency === undefined ? 0 : stringSize(r.currency) + 1;
  return FIXED_PART + stringSize(r.network) + stringSize(r.unit) + terms;
}

/** Canonical bytes of a record [P-3.1]. Throws a TypeError on an invalid record (programmer error). */
export function encodeChannelRecord(r: ChannelRecord): Uint8Array {
  const valid = validateChannelRecord(r);
  if (!valid.ok)
    throw new TypeError(`invalid channel record: ${valid.code}${valid.detail ? ` (${valid.detail})` : ''}`);
  const w = new ByteWriter(channelRecordSize(r))
    .u8(channelRecordVersion(r), 'version')
    .string(r.network, 'network')
    .fixed(r.hubKey, 32, 'hubKey')
    .fixed(r.deviceKey, 32, 'deviceKey')
    .string(r.unit, 'unit');
  // [P-3.1] version 2: the currency and the exponent sit between the unit and the price.
  if (r.currency !== undefined) w.string(r.currency, 'currency').u8(r.exponent!, 'exponent');
  return w
    .u64(r.pricePerUnit, 'pricePerUnit')
    .u64(r.capacity, 'capacity')
    .u64(r.openedAtMs, 'openedAtMs')
    .u64(r.expiresAtMs, 'expiresAtMs')
    .u64(r.nonce, 'nonce')
    .finish();
}

/** Reads a record's fields; value rules are deferred to the reader so structure is checked first. */
function readChannelRecord(r: ByteReader): ChannelRecord {
  const version = r.u8('version');
  if (!CHANNEL_RECORD_VERSIONS.includes(version)) r.stop('DECODE_VERSION', `channel record version ${version}`);
  const head = {
    network: r.string(1, NETWORK_MAX, NETWORK_PATTERN, 'network'),
    hubKey: r.fixed(32, 'hubKey'),
    deviceKey: r.fixed(32, 'deviceKey'),
    unit: r.string(1, UNIT_MAX, UNIT_PATTERN, 'unit'),
  };
  // The alphabet pattern only admits the characters; isCurrency (in fieldProblem) the grammar.
  const terms =
    version === 2
      ? { currency: r.string(3, CURRENCY_MAX, /^[-_.%:/a-zA-Z0-9]+$/, 'currency'), exponent: r.u8('exponent') }
      : {};
  const record: ChannelRecord = {
    ...head,
    ...terms,
    pricePerUnit: r.u64('pricePerUnit'),
    capacity: r.u64('capacity'),
    openedAtMs: r.u64('openedAtMs'),
    expiresAtMs: r.u64('expiresAtMs'),
    nonce: r.u64('nonce'),
  };
  const problem = fieldProblem(record);
  r.check(problem === undefined, problem ?? '');
  r.end();
  // Only a structurally sound record is worth a point decompression [P-2.3].
  const device = validatePublicKey(record.deviceKey);
  if (!device.ok) r.stop(device.code, 'deviceKey');
  return record;
}

/** Decodes and fully validates a record [P-3.1]: DECODE_*, or KEY_* for a bad device key. */
export function decodeChannelRecord(bytes: Uint8Array): Result<ChannelRecord> {
  return runDecoder(bytes, readChannelRecord);
}

/** channelId = H(tag("channel") || record) [P-3.2], from the record bytes or the record. */
export function channelIdOf(record: Uint8Array | ChannelRecord): Uint8Array {
  const bytes = record instanceof Uint8Array ? record : encodeChannelRecord(record);
  return taggedHash('channel', bytes);
}

const STATES: readonly ChannelState[] = ['open', 'exhausted', 'closed', 'revoked'];

/** Wire number of a channel state: 1 open, 2 exhausted, 3 closed, 4 revoked [P-7.1]. */
export function channelStateNumber(state: ChannelState): number {
  const i = STATES.indexOf(state);
  if (i < 0) throw new TypeError(`unknown channel state ${String(state)}`);
  return i + 1;
}

export function channelStateFromNumber(n: number): ChannelState | undefined {
  return STATES[n - 1];
}
