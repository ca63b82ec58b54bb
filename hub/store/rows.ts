// Table rows to the store's types, for both stores: the tables have the same columns on SQLite
// and PostgreSQL. Integers come back as bigint from either driver (better-sqlite3 in safeIntegers
// mode, pg with an INT8 parser), BigInt() passes those through and also takes a string; a flag is
// an INTEGER 0/1 on SQLite and a BOOLEAN on PostgreSQL.
import type { ChannelRow, ChannelStateName, DeviceRow, EpochRow, SegmentRow } from './types.js';

export type Row = Record<string, unknown>;

/** A Uint8Array view bound as a Buffer without a copy (both drivers bind Buffers). */
export const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
export const u8 = (value: unknown): Uint8Array => value as Buffer;
export const big = (value: unknown): bigint => BigInt(value as bigint | string);
export const bigOrNull = (value: unknown): bigint | null => (value === null ? null : big(value));
const flag = (value: unknown): boolean => value === true || (typeof value !== 'boolean' && big(value) !== 0n);

export function toDevice(r: Row): DeviceRow {
  return {
    deviceKey: u8(r.device_key),
    enrolledAtMs: big(r.enrolled_at_ms),
    revokedAtMs: bigOrNull(r.revoked_at_ms),
    credentialFloorMs: big(r.credential_floor_ms),
  };
}

export function toChannel(r: Row): ChannelRow {
  return {
    channelId: u8(r.channel_id),
    deviceKey: u8(r.device_key),
    record: u8(r.record),
    unit: r.unit as string,
    pricePerUnit: big(r.price),
    capacity: big(r.capacity),
    openedAtMs: big(r.opened_at_ms),
    expiresAtMs: big(r.expires_at_ms),
    state: r.state as ChannelStateName,
    head: { seq: big(r.head_seq), hash: u8(r.head_hash), cumUnits: big(r.head_units), cumAmount: big(r.head_amount) },
    receipt: r.receipt === null ? null : u8(r.receipt),
    settled: {
      seq: big(r.settled_seq),
      hash: u8(r.settled_hash),
      cumUnits: big(r.settled_units),
      cumAmount: big(r.settled_amount),
    },
    equivocated: flag(r.equivocated),
    updatedAtMs: big(r.updated_at_ms),
  };
}

export function toSegment(r: Row): SegmentRow {
  return {
    channelId: u8(r.channel_id),
    firstSeq: big(r.first_seq),
    newFromSeq: big(r.new_from_seq),
    lastSeq: big(r.last_seq),
    headHash: u8(r.head_hash),
    cumUnits: big(r.cum_units),
    cumAmount: big(r.cum_amount),
    bytes: u8(r.bytes),
    receivedAtMs: big(r.received_at_ms),
  };
}

export function toEpoch(r: Row): EpochRow {
  return {
    epoch: big(r.epoch),
    closedAtMs: big(r.closed_at_ms),
    record: u8(r.record),
    signature: u8(r.signature),
    root: u8(r.root),
    entryCount: Number(r.entry_count),
    totalDeltaAmount: big(r.total_delta_amount),
  };
}
