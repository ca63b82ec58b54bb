// Device status (type 0x04) [P-6.6]: online, offline (the MQTT last will), exhausted, or hello
// (asking for the channel grant). Advisory only: it never moves money, so it is not signed.

import { FRAMES, MESSAGE_TYPES, PROTOCOL_VERSION, SIZE_CAPS } from './codec.js';
import type { Result } from './errors.js';
import { decodeFramed } from './reader.js';
import { ByteWriter } from './writer.js';

export type StatusState = 'online' | 'offline' | 'exhausted' | 'hello';

export interface Status {
  state: StatusState;
  /** All zeros while the device has no channel. */
  channelId: Uint8Array;
  /** Seq of the latest receipt the device holds. */
  ackedSeq: bigint;
  /** Vouchers waiting in the outbox (u32). */
  outboxDepth: number;
  deviceTimeMs: bigint;
}

export const STATUS_SIZE = SIZE_CAPS.status; // 55: fixed, so the cap is the size
const STATES: readonly StatusState[] = ['online', 'offline', 'exhausted', 'hello'];

/** The 55 wire bytes of a status [P-6.6]. Throws a TypeError on out-of-range fields. */
export function encodeStatus(s: Status): Uint8Array {
  const state = STATES.indexOf(s.state);
  if (state < 0) throw new TypeError(`unknown status state ${String(s.state)}`);
  return new ByteWriter(STATUS_SIZE)
    .u8(MESSAGE_TYPES.status, 'type')
    .u8(PROTOCOL_VERSION, 'version')
    .u8(state + 1, 'state')
    .fixed(s.channelId, 32, 'channelId')
    .u64(s.ackedSeq, 'ackedSeq')
    .u32(s.outboxDepth, 'outboxDepth')
    .u64(s.deviceTimeMs, 'deviceTimeMs')
    .finish();
}

/** Decodes a status [P-6.6]; a state outside 1..4 is DECODE_FIELD. */
export function decodeStatus(bytes: Uint8Array): Result<Status> {
  return decodeFramed(bytes, FRAMES.status, (r) => {
    const stateNo = r.u8('state');
    const status: Status = {
      state: STATES[stateNo - 1] ?? 'online',
      channelId: r.fixed(32, 'channelId'),
      ackedSeq: r.u64('ackedSeq'),
      outboxDepth: r.u32('outboxDepth'),
      deviceTimeMs: r.u64('deviceTimeMs'),
    };
    r.check(stateNo >= 1 && stateNo <= STATES.length, `status state ${stateNo}`);
    return status;
  });
}
