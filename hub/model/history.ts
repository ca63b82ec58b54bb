// Rebuilding single vouchers from the stored segments (the device's own signed bytes), for
// settlement bundles: the signed head voucher and the voucher before a span [P-8.5].

import { decodeSegment, segmentVoucher, type Voucher } from '../../protocol/index.js';
import type { HubStore, SegmentRow } from '../store/types.js';

function voucherInSegment(row: SegmentRow, seq: bigint): Voucher | undefined {
  const decoded = decodeSegment(row.bytes);
  return decoded.ok ? segmentVoucher(decoded.value, seq) : undefined;
}

/** The stored voucher at `seq`, or undefined. */
export async function voucherAt(store: HubStore, channelId: Uint8Array, seq: bigint): Promise<Voucher | undefined> {
  const row = await store.segmentContaining(channelId, seq);
  return row && voucherInSegment(row, seq);
}

/** The voucher at a signed head and the device signature over it [P-4.4]. */
export async function signedHeadAt(
  store: HubStore,
  channelId: Uint8Array,
  seq: bigint,
): Promise<{ voucher: Voucher; signature: Uint8Array } | undefined> {
  const row = await store.segmentEndingAt(channelId, seq);
  if (!row) return undefined;
  const decoded = decodeSegment(row.bytes);
  const voucher = voucherInSegment(row, seq);
  if (!decoded.ok || !voucher) return undefined;
  return { voucher, signature: decoded.value.signature };
}
