// Judges what the hub sends down before the agent acts on it. Pure: each function gets what the
// agent knows and returns a verdict; nothing here touches the outbox or the link.
import {
  bytesEqual,
  channelIdOf,
  decodeReceipt,
  encodeChannelRecord,
  toHex,
  verifyReceipt,
  type ChannelRecord,
  type Control,
  type Ed25519Backend,
  type Head,
} from '../protocol/index.js';
import type { AgentCode } from './codes.js';
import type { NewVoucher, StoredReceipt } from './outbox/types.js';

export type Verdict<T> = { ok: true; value: T } | { ok: false; code: AgentCode; detail: string };

export interface ReceiptContext {
  readonly hubKey: Uint8Array;
  readonly channelId: Uint8Array | undefined;
  readonly ackedSeq: bigint;
  readonly head: Head | undefined;
  /** This device's own voucher at seq: its hash and totals, which the receipt must equal. */
  readonly voucherAt: (seq: bigint) => Pick<NewVoucher, 'hash' | 'cumUnits' | 'cumAmount'> | undefined;
  readonly backend?: Ed25519Backend;
}

/**
 * [P-5.2] A receipt may delete outbox entries only if it verifies under the configured hub key,
 * names the current channel, moves past the receipt already held, and its head hash and totals
 * equal this device's own voucher at that seq.
 */
export function judgeReceipt(bytes: Uint8Array, ctx: ReceiptContext): Verdict<StoredReceipt> | { ok: 'stale' } {
  const decoded = decodeReceipt(bytes);
  if (!decoded.ok) return { ok: false, code: 'RECEIPT_INVALID', detail: decoded.code };
  const r = decoded.value;
  const valid = ctx.backend === undefined ? verifyReceipt(r, ctx.hubKey) : verifyReceipt(r, ctx.hubKey, ctx.backend);
  if (!valid) return { ok: false, code: 'RECEIPT_INVALID', detail: 'SIG_INVALID' };
  if (ctx.channelId === undefined || ctx.head === undefined || !bytesEqual(r.channelId, ctx.channelId)) {
    return { ok: false, code: 'RECEIPT_INVALID', detail: `WRONG_CHANNEL ${toHex(r.channelId).slice(0, 16)}` };
  }
  if (r.seq <= ctx.ackedSeq) return { ok: 'stale' };
  if (r.seq > ctx.head.seq) {
    return {
      ok: false,
      code: 'RECEIPT_MISMATCH',
      detail: `receipt seq ${r.seq} beyond the device head ${ctx.head.seq}`,
    };
  }
  const mine = ctx.voucherAt(r.seq);
  if (mine === undefined) return { ok: false, code: 'RECEIPT_MISMATCH', detail: `no voucher ${r.seq} in the outbox` };
  if (!bytesEqual(mine.hash, r.headHash) || mine.cumUnits !== r.cumUnits || mine.cumAmount !== r.cumAmount) {
    return { ok: false, code: 'RECEIPT_MISMATCH', detail: `voucher ${r.seq} differs from the receipt` };
  }
  return {
    ok: true,
    value: {
      channelId: r.channelId,
      seq: r.seq,
      headHash: r.headHash,
      cumUnits: r.cumUnits,
      cumAmount: r.cumAmount,
      bytes,
    },
  };
}

export interface GrantedChannel {
  readonly channelId: Uint8Array;
  readonly record: ChannelRecord;
  readonly recordBytes: Uint8Array;
  readonly capacity: bigint;
  readonly state: 'open' | 'exhausted' | 'closed' | 'revoked';
  readonly hubHead: Head;
}

/** [P-7.1] A grant is used only if its record names the configured hub key and this device's key. */
export function judgeGrant(
  c: Extract<Control, { kind: 'grant' }>,
  hubKey: Uint8Array,
  deviceKey: Uint8Array,
): Verdict<GrantedChannel> {
  if (!bytesEqual(c.record.hubKey, hubKey)) {
    return { ok: false, code: 'GRANT_WRONG_HUB', detail: `record names hub ${toHex(c.record.hubKey).slice(0, 16)}` };
  }
  if (!bytesEqual(c.record.deviceKey, deviceKey)) {
    return {
      ok: false,
      code: 'GRANT_WRONG_DEVICE',
      detail: `record names device ${toHex(c.record.deviceKey).slice(0, 16)}`,
    };
  }
  const recordBytes = encodeChannelRecord(c.record);
  const channelId = channelIdOf(recordBytes);
  // [P-3.3] the effective capacity is the largest granted; a grant never lowers the record's own.
  const capacity = c.capacity > c.record.capacity ? c.capacity : c.record.capacity;
  return { ok: true, value: { channelId, record: c.record, recordBytes, capacity, state: c.state, hubHead: c.head } };
}
