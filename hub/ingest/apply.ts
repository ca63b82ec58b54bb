// Step 5, apply: the channel's terms that depend on the hub (expiry, by the hub clock; the
// capacity and price were checked voucher by voucher in verify), then move the live head.
// Nothing is durable yet: the group commit writes it, and only then is a receipt sent. A segment
// whose signature a worker is still checking moves only the live head, which places the next
// segment; whatever else it causes (the channel exhausted) waits for `confirmSigned`.

import type { Segment, VerifiedSegment } from '../../protocol/index.js';
import type { LiveChannel, PendingSegment } from '../model/registry.js';
import { pass, stop, type Step } from './types.js';

export function applyStep(
  ch: LiveChannel,
  s: Segment,
  verified: VerifiedSegment,
  newFromSeq: bigint,
  bytes: Uint8Array,
  nowMs: number,
  arrivedAt: number,
  signature: 'ok' | 'pending',
): Step<PendingSegment> {
  const lastSeq = verified.head.seq;
  // Device time is informational [P-4.1]; the hub clock decides expiry.
  if (ch.expiresAtMs !== 0n && BigInt(nowMs) >= ch.expiresAtMs) {
    return stop({
      stage: 'apply',
      reason: 'CHANNEL_EXPIRED',
      deviceHex: ch.deviceHex,
      channel: ch,
      seq: lastSeq,
      vouchers: s.vouchers.length,
    });
  }
  const pending: PendingSegment = {
    firstSeq: s.firstSeq,
    newFromSeq,
    lastSeq,
    hashes: verified.hashes,
    cumUnits: verified.vouchers.map((v) => v.cumUnits),
    cumAmounts: verified.vouchers.map((v) => v.cumAmount),
    bytes,
    receivedAtMs: BigInt(nowMs),
    arrivedAt,
    signature,
  };
  ch.pending.push(pending);
  ch.head = verified.head;
  if (signature === 'ok') confirmSigned(ch, pending);
  return pass(pending);
}

/** A chained segment is known to carry the device's signature: it may now change the channel. */
export function confirmSigned(ch: LiveChannel, p: PendingSegment): void {
  p.signature = 'ok';
  // A new signed head: a later BAD_LINK may ask for a RESYNC again.
  ch.resyncedAtSeq = null;
  // No further unit fits: the channel is exhausted until a top-up [P-7.3].
  const cumAmount = p.cumAmounts[p.cumAmounts.length - 1]!;
  if (ch.state === 'open' && ch.pricePerUnit > 0n && cumAmount + ch.pricePerUnit > ch.capacity) markExhausted(ch);
}

export function markExhausted(ch: LiveChannel): void {
  if (ch.state !== 'open') return;
  ch.state = 'exhausted';
  ch.stateDirty = true;
  ch.exhaustedNotice = true;
  ch.exhaustedEvent = true;
}
