// Turns metered units into vouchers and signed segments: one voucher per unit (cumUnits + 1 each,
// cumAmount = cumUnits x price [P-4.3]), cut into segments of at most `batch` vouchers, each signed
// over its head [P-4.4] by protocol/'s buildSegment. Pure: no I/O, the caller commits the result.
import { buildSegment, type Ed25519Backend, type Head } from '../protocol/index.js';
import {
  SQLITE_INT_MAX,
  type FlushRecord,
  type MeterState,
  type NewSegment,
  type NewVoucher,
  type OutgoingSegment,
} from './outbox/types.js';

/**
 * How many more units the channel may carry after `head` [P-4.3: cumAmount <= capacity]. The store
 * keeps voucher values as signed 64-bit integers, so 2^63-1 bounds both totals as well.
 */
export function unitsAllowed(head: Head, pricePerUnit: bigint, capacity: bigint): bigint {
  const unitsRoom = SQLITE_INT_MAX - head.cumUnits;
  if (pricePerUnit === 0n) return unitsRoom > 0n ? unitsRoom : 0n;
  const cap = capacity < SQLITE_INT_MAX ? capacity : SQLITE_INT_MAX;
  const byAmount = cap > head.cumAmount ? (cap - head.cumAmount) / pricePerUnit : 0n;
  const room = byAmount < unitsRoom ? byAmount : unitsRoom;
  return room > 0n ? room : 0n;
}

export interface BuildFlushArgs {
  readonly channelId: Uint8Array;
  readonly head: Head;
  /** Number of vouchers (= units) to make; at least 1. */
  readonly units: number;
  readonly pricePerUnit: bigint;
  readonly batch: number;
  readonly deviceTimeMs: bigint;
  readonly secretKey: Uint8Array;
  /** Meter state to commit with these vouchers. */
  readonly meter: MeterState;
  readonly backend?: Ed25519Backend;
}

export interface BuiltFlush {
  readonly record: FlushRecord;
  /** The same segments as the outbox gives them back to be sent (OutboxStore.segmentsAfter). */
  readonly segments: readonly OutgoingSegment[];
}

export function buildFlush(a: BuildFlushArgs): BuiltFlush {
  if (!Number.isSafeInteger(a.units) || a.units < 1) throw new RangeError('units must be a positive integer');
  const vouchers: NewVoucher[] = [];
  const stored: NewSegment[] = [];
  const segments: OutgoingSegment[] = [];
  let head = a.head;
  for (let done = 0; done < a.units;) {
    const n = Math.min(a.batch, a.units - done);
    const fields = new Array<{ cumUnits: bigint; cumAmount: bigint; deviceTimeMs: bigint }>(n);
    for (let j = 0; j < n; j++) {
      const cumUnits = head.cumUnits + BigInt(j + 1);
      fields[j] = { cumUnits, cumAmount: cumUnits * a.pricePerUnit, deviceTimeMs: a.deviceTimeMs };
    }
    const built =
      a.backend === undefined
        ? buildSegment({ channelId: a.channelId, prev: head, vouchers: fields, secretKey: a.secretKey })
        : buildSegment({
            channelId: a.channelId,
            prev: head,
            vouchers: fields,
            secretKey: a.secretKey,
            backend: a.backend,
          });
    for (let j = 0; j < n; j++) {
      const f = fields[j]!;
      vouchers.push({
        seq: head.seq + BigInt(j + 1),
        cumUnits: f.cumUnits,
        cumAmount: f.cumAmount,
        deviceTimeMs: f.deviceTimeMs,
        hash: built.hashes[j]!,
      });
    }
    stored.push({
      firstSeq: built.segment.firstSeq,
      lastSeq: built.head.seq,
      prevHash: built.segment.prevHash,
      signature: built.segment.signature,
    });
    segments.push({ ...built.segment, lastSeq: built.head.seq });
    head = built.head;
    done += n;
  }
  return { record: { channelId: a.channelId, vouchers, segments: stored, head, meter: a.meter }, segments };
}
