// sim:RATE: a synthetic cumulative counter advancing at RATE units per second of the injected
// clock. It ticks at most every 1000 ms and at least every 10 ms, so 1 unit/s costs one timer
// tick a second and 10,000 units/s about 100 units per tick.
import type { Clock, Timer } from '../clock.js';
import type { MeterSink, MeterSource } from './types.js';

export function createSimMeter(milliUnitsPerSecond: bigint, clock: Clock, description = 'sim'): MeterSource {
  let timer: Timer | undefined;
  let sink: MeterSink | undefined;
  let origin = 0n;
  let startedAt = 0;
  const read = (): void => {
    const elapsedMs = BigInt(Math.max(0, clock.now() - startedAt));
    sink?.reading(origin + (elapsedMs * milliUnitsPerSecond) / 1_000_000n);
  };
  const unitsPerSecond = Number(milliUnitsPerSecond) / 1000;
  const tickMs = Math.min(1000, Math.max(10, Math.floor(1000 / unitsPerSecond)));
  return {
    description,
    start(s, resumeFrom) {
      sink = s;
      origin = resumeFrom ?? 0n;
      startedAt = clock.now();
      timer = clock.every(tickMs, read);
    },
    pollNow: async () => read(),
    async stop() {
      timer?.cancel();
      timer = undefined;
      sink = undefined;
    },
  };
}
