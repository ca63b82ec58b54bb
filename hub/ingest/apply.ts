// Step 5, apply: the channel's terms that depend on the hub (expiry, by the hub clock; the
// capacity and price were checked voucher by voucher in verify), then move the live head.
// Nothing is durable yet: the group commit writes it, and only then is a receipt sent.

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
  // No further unit fits: the channel is exhausted until a top-up [P-7.3].
  if (ch.state === 'open' && ch.pricePerUnit > 0n && ch.head.cumAmount + ch.pricePerUnit > ch.capacity) {
    markExhausted(ch);
  }
  return pass(pending);
}

export function markExhausted(ch: LiveChannel): void {
  if (ch.state !== 'open') return;
  ch.state = 'exhausted';
  ch.stateDirty = true;
  ch.exhaustedNotice = true;
}
