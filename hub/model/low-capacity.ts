// channel.low_capacity: when a channel's remaining capacity (capacity minus the committed amount)
// falls to a threshold or below. The threshold is an amount in minor units ("5000") or a share of
// the capacity ("10%"), per channel or the hub's default (base/webhook-config.ts parses both). A
// crossing is a commit that takes the remaining amount from above the threshold to at or below
// it: it happens once per descent, and only a top-up (which lifts the remaining amount above the
// threshold again) re-arms it. No flag to keep: the committed heads before and after say it.

import type { Threshold } from '../base/webhook-config.js';

export { parseThreshold, type Threshold } from '../base/webhook-config.js';

export const formatThreshold = (t: Threshold): string => (t.kind === 'percent' ? `${t.percent}%` : t.amount.toString());

/** The threshold in minor units for a channel of this capacity (a share rounds down). */
export const thresholdAmount = (t: Threshold, capacity: bigint): bigint =>
  t.kind === 'percent' ? (capacity * t.percent) / 100n : t.amount;

/** True when a commit moving the cumulative amount from `before` to `after` crosses it. A zero
 *  threshold never fires (exhaustion has its own event). */
export function crossesLow(threshold: bigint, capacity: bigint, before: bigint, after: bigint): boolean {
  if (threshold <= 0n) return false;
  return capacity - before > threshold && capacity - after <= threshold;
}
