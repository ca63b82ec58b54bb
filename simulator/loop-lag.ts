// Event-loop lag of one process (perf_hooks.monitorEventLoopDelay): a fleet process whose loop
// lags delays every device in it, and a hub whose loop lags delays every receipt. Node samples
// with a timer of RESOLUTION_MS and records the time between its wake-ups, so each value includes
// the resolution itself; what is reported here is the excess, the lag.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const RESOLUTION_MS = 10;

export interface LoopLag {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export const NO_LAG: LoopLag = { p50Ms: 0, p99Ms: 0, maxMs: 0 };

export class LoopLagMonitor {
  readonly #total: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  readonly #window: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });

  constructor() {
    this.#total.enable();
    this.#window.enable();
  }

  /** Since the monitor started. */
  total(): LoopLag {
    return summarize(this.#total);
  }

  /** Since the previous call (or the start), then starts a new window. */
  window(): LoopLag {
    const out = summarize(this.#window);
    this.#window.reset();
    return out;
  }

  stop(): void {
    this.#total.disable();
    this.#window.disable();
  }
}

function summarize(h: IntervalHistogram): LoopLag {
  if (h.count === 0) return NO_LAG;
  const ms = (ns: number) => Math.round(Math.max(0, ns / 1e6 - RESOLUTION_MS) * 1000) / 1000;
  return { p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) };
}

/** The worst of several processes' lags, stage by stage. */
export function worstLag(lags: LoopLag[]): LoopLag {
  return lags.reduce(
    (a, b) => ({
      p50Ms: Math.max(a.p50Ms, b.p50Ms),
      p99Ms: Math.max(a.p99Ms, b.p99Ms),
      maxMs: Math.max(a.maxMs, b.maxMs),
    }),
    NO_LAG,
  );
}
