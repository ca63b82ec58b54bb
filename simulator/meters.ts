// Physical meters of the virtual fleet. One ticker advances every device's hardware counter, so
// 10,000 devices cost one timer, not 10,000. A counter keeps counting while its agent is down
// (killed, restarting, offline), exactly like a pulse counter on a real board: the agent must
// pick those units up from the counter when it comes back, or conservation fails.
import type { MeterSink, MeterSource } from '../agent/meter/index.js';
import type { Rng } from './rng.js';

export type Arrivals = 'constant' | 'poisson';

export class PhysicalMeter {
  /** The hardware counter: every unit the device really used. */
  counter = 0n;
  #fraction = 0;
  #sink: MeterSink | undefined;

  constructor(
    readonly ratePerSec: number,
    private readonly arrivals: Arrivals,
    private readonly rng: Rng,
  ) {
    // A random phase, so that a fleet on constant rates does not tick in lockstep.
    this.#fraction = rng.next();
  }

  advance(dtSec: number): void {
    const mean = this.ratePerSec * dtSec;
    const units = this.arrivals === 'poisson' ? poisson(mean, this.rng) : this.#constant(mean);
    if (units > 0) {
      this.counter += BigInt(units);
      this.#sink?.reading(this.counter);
    }
  }

  #constant(mean: number): number {
    this.#fraction += mean;
    const whole = Math.floor(this.#fraction);
    this.#fraction -= whole;
    return whole;
  }

  /** The agent-facing source: it reads this counter. A restarted agent gets a fresh source. */
  source(): MeterSource {
    return {
      description: `sim:${this.ratePerSec}/s ${this.arrivals}`,
      start: (sink) => {
        this.#sink = sink;
        sink.reading(this.counter);
      },
      pollNow: async () => this.#sink?.reading(this.counter),
      stop: async () => {
        this.#sink = undefined;
      },
    };
  }

  /** The agent died: nobody reads the counter until a new source starts. */
  detach(): void {
    this.#sink = undefined;
  }
}

/** Draws a Poisson count: Knuth for small means, a rounded normal for large ones. */
export function poisson(mean: number, rng: Rng): number {
  if (mean <= 0) return 0;
  if (mean > 30) {
    const u = 1 - rng.next();
    const v = rng.next();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * z));
  }
  const limit = Math.exp(-mean);
  let k = 0;
  let p = rng.next();
  while (p > limit) {
    k++;
    p *= rng.next();
  }
  return k;
}

export class MeterDriver {
  readonly meters: PhysicalMeter[] = [];
  #timer: NodeJS.Timeout | undefined;
  #last = 0;

  constructor(private readonly tickMs = 100) {}

  add(meter: PhysicalMeter): PhysicalMeter {
    this.meters.push(meter);
    return meter;
  }

  start(): void {
    this.#last = performance.now();
    this.#timer = setInterval(() => this.#tick(), this.tickMs);
  }

  /** Stops production: counters freeze at the units the fleet really used. */
  stop(): void {
    if (this.#timer !== undefined) this.#tick();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const now = performance.now();
    const dt = (now - this.#last) / 1000;
    this.#last = now;
    for (const m of this.meters) m.advance(dt);
  }

  totalUnits(): bigint {
    let n = 0n;
    for (const m of this.meters) n += m.counter;
    return n;
  }
}
