// Turns cumulative counter readings into whole units: the agent's counter semantics, in one pure
// function. Readings are exact nano-units (decimal.ts). docs/agent.md lists each case.
//
// - Increase: the advance, plus the sub-unit remainder carried from before, becomes whole units;
//   what is left under one unit is carried again. Summed over any run of readings, the units equal
//   the floor of everything the counter advanced: a fraction is never rounded away or counted twice.
// - First reading ever: sets the baseline, no units.
// - Decrease on a fixed-width register (the source declares where it wraps, e.g. 2^32 counts of a
//   uint32): a ROLLOVER when the distance forward across the wrap, (wrapsAt - previous) + reading,
//   is plausible: no more than twice what the counter advanced at its fastest recent rate over the
//   same elapsed time, or within the top 1/2^20 of the register's range when no rate is known yet
//   (just after a start). The units across the wrap are counted.
// - Any other decrease is a RESET or a replaced meter: the reading becomes the new baseline, no unit
//   is created, and the carried remainder is kept (it was metered by the old counter).
// A rollover judged a reset loses at most the distance across the wrap; a reset judged a rollover
// would create units, so the rule leans to reset: it needs evidence of a rate to count across.

import { NANO } from './decimal.js';

/** One recent advance: nanos over ms. */
interface Advance {
  readonly nanos: bigint;
  readonly ms: bigint;
}

export interface CounterState {
  /** The last reading (nano-units); undefined before the first. Persisted. */
  readonly baseline: bigint | undefined;
  /** Metered nano-units not yet a whole unit: 0 <= remainder < NANO. Persisted. */
  readonly remainder: bigint;
  /** When the last reading came (ms); in memory only. */
  readonly lastAtMs?: number;
  /** Recent advances for the rollover rule; in memory only. */
  readonly advances?: readonly Advance[];
}

export type CounterEvent =
  | { readonly code: 'METER_DECREASED'; readonly from: bigint; readonly to: bigint }
  | { readonly code: 'METER_ROLLOVER'; readonly from: bigint; readonly to: bigint; readonly across: bigint };

export interface CounterStep {
  readonly units: bigint;
  readonly state: CounterState;
  readonly event?: CounterEvent;
}

export const EMPTY_COUNTER: CounterState = Object.freeze({ baseline: undefined, remainder: 0n });

/** Advances kept for the rate estimate. */
const RATE_WINDOW = 32;
/** Without a known rate, a wrap is believed only within the top 1/2^20 of the range. */
const BLIND_WRAP_SHIFT = 20n;

export function stepCounter(state: CounterState, reading: bigint, nowMs: number, wrapsAt?: bigint): CounterStep {
  const prev = state.baseline;
  const elapsed = state.lastAtMs === undefined ? undefined : BigInt(Math.max(1, nowMs - state.lastAtMs));
  if (prev === undefined) {
    return { units: 0n, state: { baseline: reading, remainder: state.remainder, lastAtMs: nowMs } };
  }
  if (reading >= prev) return advance(state, reading, reading - prev, nowMs, elapsed);
  if (wrapsAt !== undefined && prev < wrapsAt && reading < wrapsAt) {
    const across = wrapsAt - prev + reading;
    if (plausibleWrap(across, wrapsAt, elapsed, state.advances ?? [])) {
      const step = advance(state, reading, across, nowMs, elapsed);
      return { ...step, event: { code: 'METER_ROLLOVER', from: prev, to: reading, across } };
    }
  }
  return {
    units: 0n,
    state: { baseline: reading, remainder: state.remainder, lastAtMs: nowMs, advances: state.advances ?? [] },
    event: { code: 'METER_DECREASED', from: prev, to: reading },
  };
}

function advance(
  state: CounterState,
  reading: bigint,
  delta: bigint,
  nowMs: number,
  elapsed: bigint | undefined,
): CounterStep {
  const acc = state.remainder + delta;
  let advances = state.advances ?? [];
  if (delta > 0n && elapsed !== undefined)
    advances = [...advances.slice(-(RATE_WINDOW - 1)), { nanos: delta, ms: elapsed }];
  return {
    units: acc / NANO,
    state: { baseline: reading, remainder: acc % NANO, lastAtMs: nowMs, advances },
  };
}

function plausibleWrap(
  across: bigint,
  wrapsAt: bigint,
  elapsed: bigint | undefined,
  advances: readonly Advance[],
): boolean {
  if (across <= wrapsAt >> BLIND_WRAP_SHIFT) return true;
  if (elapsed === undefined) return false;
  // across / elapsed <= 2 x nanos / ms, cross-multiplied to stay in integers.
  return advances.some((a) => across * a.ms <= 2n * a.nanos * elapsed);
}
