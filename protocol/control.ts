// Control messages, hub -> device, signed [P-7]: GRANT (0x10), RESYNC (0x11), CAPACITY (0x12),
// REJECT (0x13). Each is `type || version || body || Ed25519(hubKey, tag("control") || type ||
// version || body)`. decodeControl verifies the signature with the hub key the device was
// configured with, so an unsigned or forged message never reaches the agent's logic.

import {
  CHANNEL_RECORD_MAX_SIZE,
  CHANNEL_RECORD_MIN_SIZE,
  channelStateFromNumber,
  channelStateNumber,
  decodeChannelRecord,
  encodeChannelRecord,
  type ChannelRecord,
  type ChannelState,
} from './channel.js';
import { FRAMES, MESSAGE_TYPES, PROTOCOL_VERSION, SIGNATURE_SIZE } from './codec.js';
import { defaultBackend, type Ed25519Backend } from './crypto/index.js';
import { fail, ok, REASONS, reasonFromNumber, type ReasonCode, type Result } from './errors.js';
import { tag } from './hash.js';
import { decodeFramed, type ByteReader } from './reader.js';
import type { Head } from './voucher.js';
import { ByteWriter } from './writer.js';

export type Control =
  | { kind: 'grant'; record: ChannelRecord; capacity: bigint; state: ChannelState; head: Head }
  | { kind: 'resync'; channelId: Uint8Array; head: Head; reason: ReasonCode }
  | { kind: 'capacity'; channelId: Uint8Array; capacity: bigint; cumAmount: bigint; state: ChannelState }
  | { kind: 'reject'; channelId: Uint8Array; seq: bigint; reason: ReasonCode };

const CONTROL_TAG = tag('control');
const HEAD_SIZE = 8 + 32 + 8 + 8;

function bodySize(c: Control): number {
  switch (c.kind) {
    case 'grant':
      return 2 + encodeChannelRecord(c.record).length + 8 + 1 + HEAD_SIZE;
    case 'resync':
      return 32 + HEAD_SIZE + 2;
    case 'capacity':
      return 32 + 8 + 8 + 1;
    case 'reject':
      return 32 + 8 + 2;
  }
}

function writeHead(w: ByteWriter, head: Head): void {
  w.u64(head.seq, 'headSeq')
    .fixed(head.hash, 32, 'headHash')
    .u64(head.cumUnits, 'headUnits')
    .u64(head.cumAmount, 'headAmount');
}

function reasonNumber(code: ReasonCode): number {
  const entry = REASONS[code];
  if (entry === undefined) throw new TypeError(`unknown reason code ${String(code)}`);
  return entry.no;
}

/** Encodes and signs a control message with the hub key [P-7]. Throws a TypeError on bad fields. */
export function encodeControl(
  c: Control,
  hubSecretKey: Uint8Array,
  backend: Ed25519Backend = defaultBackend,
): Uint8Array {
  const size = 2 + bodySize(c) + SIGNATURE_SIZE;
  const w = new ByteWriter(size).u8(MESSAGE_TYPES[c.kind], 'type').u8(PROTOCOL_VERSION, 'version');
  switch (c.kind) {
    case 'grant': {
      const record = encodeChannelRecord(c.record);
      w.u16(record.length, 'recordLength').fixed(record, record.length, 'record');
      w.u64(c.capacity, 'capacity').u8(channelStateNumber(c.state), 'state');
      writeHead(w, c.head);
      break;
    }
    case 'resync':
      w.fixed(c.channelId, 32, 'channelId');
      writeHead(w, c.head);
      w.u16(reasonNumber(c.reason), 'reason');
      break;
    case 'capacity':
      w.fixed(c.channelId, 32, 'channelId').u64(c.capacity, 'capacity').u64(c.cumAmount, 'cumAmount');
      w.u8(channelStateNumber(c.state), 'state');
      break;
    case 'reject':
      w.fixed(c.channelId, 32, 'channelId').u64(c.seq, 'seq').u16(reasonNumber(c.reason), 'reason');
      break;
  }
  const bytes = w.bytes;
  const signature = backend.sign(signedMessage(bytes, size - SIGNATURE_SIZE), hubSecretKey);
  return w.fixed(signature, SIGNATURE_SIZE, 'signature').finish();
}

/** tag("control") || type || version || body [P-7]. */
function signedMessage(bytes: Uint8Array, signedLength: number): Uint8Array {
  const message = new Uint8Array(CONTROL_TAG.length + signedLength);
  message.set(CONTROL_TAG);
  message.set(bytes.subarray(0, signedLength), CONTROL_TAG.length);
  return message;
}

function readHead(r: ByteReader): Head {
  return {
    seq: r.u64('headSeq'),
    hash: r.fixed(32, 'headHash'),
    cumUnits: r.u64('headUnits'),
    cumAmount: r.u64('headAmount'),
  };
}

function readState(r: ByteReader): ChannelState {
  const n = r.u8('state');
  const state = channelStateFromNumber(n);
  r.check(state !== undefined, `channel state ${n}`);
  return state ?? 'open';
}

function readReason(r: ByteReader): ReasonCode {
  const n = r.u16('reason');
  const code = reasonFromNumber(n);
  r.check(code !== undefined, `reason ${n}`);
  return code ?? 'DECODE_FIELD';
}

/** A control body whose structure is known good; a GRANT's record is still raw bytes. */
type Body =
  | { kind: 'grant'; recordBytes: Uint8Array; capacity: bigint; state: ChannelState; head: Head }
  | Exclude<Control, { kind: 'grant' }>;

function readBody(r: ByteReader, type: number): Body {
  switch (type) {
    case MESSAGE_TYPES.grant: {
      const length = r.count16(CHANNEL_RECORD_MIN_SIZE, CHANNEL_RECORD_MAX_SIZE, 'recordLength');
      const recordBytes = r.fixed(length, 'record');
      return { kind: 'grant', recordBytes, capacity: r.u64('capacity'), state: readState(r), head: readHead(r) };
    }
    case MESSAGE_TYPES.resync:
      return { kind: 'resync', channelId: r.fixed(32, 'channelId'), head: readHead(r), reason: readReason(r) };
    case MESSAGE_TYPES.capacity:
      return {
        kind: 'capacity',
        channelId: r.fixed(32, 'channelId'),
        capacity: r.u64('capacity'),
        cumAmount: r.u64('cumAmount'),
        state: readState(r),
      };
    default: // decodeFramed admits only the four control types
      return { kind: 'reject', channelId: r.fixed(32, 'channelId'), seq: r.u64('seq'), reason: readReason(r) };
  }
}

function readControl(r: ByteReader, type: number): { body: Body; signature: Uint8Array } {
  const body = readBody(r, type);
  return { body, signature: r.fixed(SIGNATURE_SIZE, 'signature') };
}

/**
 * Decodes a control message and verifies the hub's signature [P-7]: DECODE_* (a GRANT's record
 * may also give KEY_*), then SIG_INVALID. The signature is checked last, over the exact bytes.
 */
export function decodeControl(
  bytes: Uint8Array,
  hubKey: Uint8Array,
  backend: Ed25519Backend = defaultBackend,
): Result<Control> {
  const framed = decodeFramed(bytes, FRAMES.control, readControl);
  if (!framed.ok) return framed;
  const { body, signature } = framed.value;
  let control: Control;
  if (body.kind === 'grant') {
    const record = decodeChannelRecord(body.recordBytes);
    if (!record.ok) return fail(record.code, `grant record${record.detail ? `: ${record.detail}` : ''}`);
    control = { kind: 'grant', record: record.value, capacity: body.capacity, state: body.state, head: body.head };
  } else {
    control = body;
  }
  const signedLength = bytes.length - SIGNATURE_SIZE;
  if (!backend.verify(signature, signedMessage(bytes, signedLength), hubKey)) return fail('SIG_INVALID');
  return ok(control);
}
