// The wire message types and their size caps [P-1.6, P-6.3], and a dispatcher that tells which
// decoder a payload is for. Each decoder checks its own cap before reading a byte, so a hostile
// 10 MB payload costs one comparison.

import { fail, ok, type Result } from './errors.js';
import type { Frame } from './reader.js';

export const PROTOCOL_VERSION = 1;

/** The `u8 type` of every wire message [P-5.1, P-6.5, P-6.6, P-7]. */
export const MESSAGE_TYPES = Object.freeze({
  segment: 0x01,
  receipt: 0x02,
  status: 0x04,
  grant: 0x10,
  resync: 0x11,
  capacity: 0x12,
  reject: 0x13,
} as const);

export type MessageKind = keyof typeof MESSAGE_TYPES;

export const MAX_SEGMENT_VOUCHERS = 1024;
export const SEGMENT_HEADER_SIZE = 76; // type, version, channelId, firstSeq, prevHash, count
export const SEGMENT_VOUCHER_SIZE = 24;
export const SIGNATURE_SIZE = 64;

/** Size caps in bytes, checked before decoding [P-6.3]. The four control types share one. */
export const SIZE_CAPS = Object.freeze({
  segment: SEGMENT_HEADER_SIZE + SEGMENT_VOUCHER_SIZE * MAX_SEGMENT_VOUCHERS + SIGNATURE_SIZE, // 24,716
  receipt: 162,
  status: 55,
  control: 512,
} as const);

const CONTROL_TYPES = [MESSAGE_TYPES.grant, MESSAGE_TYPES.resync, MESSAGE_TYPES.capacity, MESSAGE_TYPES.reject];

/** What each decoder passes to decodeFramed. */
export const FRAMES = Object.freeze({
  segment: { cap: SIZE_CAPS.segment, types: [MESSAGE_TYPES.segment], name: 'segment' },
  receipt: { cap: SIZE_CAPS.receipt, types: [MESSAGE_TYPES.receipt], name: 'receipt' },
  status: { cap: SIZE_CAPS.status, types: [MESSAGE_TYPES.status], name: 'status' },
  control: { cap: SIZE_CAPS.control, types: CONTROL_TYPES, name: 'control message' },
} satisfies Record<string, Frame>);

const kindByType = new Map<number, MessageKind>(
  (Object.keys(MESSAGE_TYPES) as MessageKind[]).map((kind) => [MESSAGE_TYPES[kind], kind]),
);

/** The size cap that applies to a message kind [P-6.3]. */
export function capOf(kind: MessageKind): number {
  switch (kind) {
    case 'segment':
    case 'receipt':
    case 'status':
      return SIZE_CAPS[kind];
    default:
      return SIZE_CAPS.control;
  }
}

/**
 * The kind named by a payload's first byte, without decoding it (DECODE_EMPTY, DECODE_TYPE).
 * The payload still goes through its decoder, which checks the cap, version and everything else.
 */
export function peekType(bytes: Uint8Array): Result<MessageKind> {
  if (!(bytes instanceof Uint8Array)) return fail('DECODE_FIELD', 'not a byte array');
  if (bytes.length === 0) return fail('DECODE_EMPTY');
  const kind = kindByType.get(bytes[0]!);
  return kind === undefined ? fail('DECODE_TYPE', `type 0x${bytes[0]!.toString(16)}`) : ok(kind);
}
