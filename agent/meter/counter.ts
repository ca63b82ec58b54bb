// Turns cumulative counter readings into new units. A counter that goes backwards is a reset: the
// reading becomes the new baseline and no unit is created or lost (issue 4). The first reading
// ever seen only sets the baseline.

export type CounterEvent = { code: 'METER_DECREASED'; from: bigint; to: bigint };

export interface CounterStep {
  readonly units: bigint;
  readonly baseline: bigint;
  readonly event?: CounterEvent;
}

export function stepCounter(baseline: bigint | undefined, reading: bigint): CounterStep {
  if (baseline === undefined) return { units: 0n, baseline: reading };
  if (reading < baseline) {
    return { units: 0n, baseline: reading, event: { code: 'METER_DECREASED', from: baseline, to: reading } };
  }
  return { units: reading - baseline, baseline: reading };
}
