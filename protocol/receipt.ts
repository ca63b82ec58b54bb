// Receipts (type 0x02) [P-5.1]: the hub's signed statement of the highest contiguous seq it has
// durably stored. The device deletes from its outbox only what a verified receipt covers [P-5.2].

import { FRAMES, MESSAGE_TYPES, PROTOCOL_VERSION, SIGNATURE_SIZE, SIZE_CAPS } from './codec.js';
import { defaultBackend, type Ed25519Backend } from './crypto/index.js';
import type { Result } from './errors.js';
import { tag } from './hash.js';
import { decodeFramed } from './reader.js';
import { ByteWriter } from './writer.js';

export interface Receipt {
  channelId: Uint8Array;
  /** Highest contiguous seq stored. */
  seq: bigint;
  /** voucherHash(seq). */
  headHash: Uint8Array;
  cumUnits: bigint;
  cumAmount: bigint;
  hubTimeMs: bigint;
  signature: Uint8Array;
}

export type ReceiptFields = Omit<Receipt, 'signature'>;

export const RECEIPT_SIZE = SIZE_CAPS.receipt; // 162: fixed, so the cap is the size
const BODY_SIZE = RECEIPT_SIZE - SIGNATURE_SIZE;
const RECEIPT_TAG = tag('receipt');

/** `type || version || ... || hubTimeMs` with room for the signature after it. */
function writeBody(r: ReceiptFields): ByteWriter {
  return new ByteWriter(RECEIPT_SIZE)
    .u8(MESSAGE_TYPES.receipt, 'type')
    .u8(PROTOCOL_VERSION, 'version')
    .fixed(r.channelId, 32, 'channelId')
    .u64(r.seq, 'seq')
    .fixed(r.headHash, 32, 'headHash')
    .u64(r.cumUnits, 'cumUnits')
    .u64(r.cumAmount, 'cumAmount')
    .u64(r.hubTimeMs, 'hubTimeMs');
}

/** tag("receipt") || all bytes of the message before the signature [P-5.1]. */
function signedMessage(body: Uint8Array): Uint8Array {
  const message = new Uint8Array(RECEIPT_TAG.length + BODY_SIZE);
  message.set(RECEIPT_TAG);
  message.set(body.subarray(0, BODY_SIZE), RECEIPT_TAG.length);
  return message;
}

/** Signs a receipt with the hub key [P-5.1]. Throws a TypeError on out-of-range fields. */
export function makeReceipt(
  fields: ReceiptFields,
  hubSecretKey: Uint8Array,
  backend: Ed25519Backend = defaultBackend,
): Receipt {
  const body = writeBody(fields).bytes;
  const signature = backend.sign(signedMessage(body), hubSecretKey);
  return {
    channelId: fields.channelId,
    seq: fields.seq,
    headHash: fields.headHash,
    cumUnits: fields.cumUnits,
    cumAmount: fields.cumAmount,
    hubTimeMs: fields.hubTimeMs,
    signature,
  };
}

/** The 162 wire bytes of a receipt [P-5.1]. Throws a TypeError on out-of-range fields. */
export function encodeReceipt(r: Receipt): Uint8Array {
  return writeBody(r).fixed(r.signature, SIGNATURE_SIZE, 'signature').finish();
}

/** Decodes a receipt [P-5.1]; the signature is checked by verifyReceipt with the configured hub key. */
export function decodeReceipt(bytes: Uint8Array): Result<Receipt> {
  return decodeFramed(bytes, FRAMES.receipt, (r) => ({
    channelId: r.fixed(32, 'channelId'),
    seq: r.u64('seq'),
    headHash: r.fixed(32, 'headHash'),
    cumUnits: r.u64('cumUnits'),
    cumAmount: r.u64('cumAmount'),
    hubTimeMs: r.u64('hubTimeMs'),
    signature: r.fixed(SIGNATURE_SIZE, 'signature'),
  }));
}

/** True when the hub key signed exactly these fields [P-5.1, P-5.2]. Never throws. */
export function verifyReceipt(r: Receipt, hubKey: Uint8Array, backend: Ed25519Backend = defaultBackend): boolean {
  let body: Uint8Array;
  try {
    body = writeBody(r).bytes;
  } catch {
    return false; // a field out of range cannot have been signed
  }
  return backend.verify(r.signature, signedMessage(body), hubKey);
}
