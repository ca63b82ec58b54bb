// Faults on the wire between one agent and the broker: duplicate, reorder, tamper and replay act
// on the segments the agent publishes. The genuine segment is always delivered too (late, twice,
// or after a forged copy), so a correct hub conserves every unit while rejecting every forgery.
import type { FaultKind, FaultPlan } from './faults.js';
import type { Rng } from './rng.js';

export type Publish = (payload: Uint8Array) => Promise<void>;
export type FaultCounts = Partial<Record<FaultKind, number>>;

/** How many recent genuine segments a device keeps to replay later. */
const REPLAY_MEMORY = 8;

export class SegmentFaults {
  #recent: Uint8Array[] = [];
  #held: { payload: Uint8Array; timer: NodeJS.Timeout } | undefined;

  constructor(
    private readonly plan: FaultPlan,
    private readonly rng: Rng,
    private readonly counts: FaultCounts,
  ) {}

  /** True when the plan has a fault that acts on segments (otherwise skip the interception). */
  static applies(plan: FaultPlan): boolean {
    return (['duplicate', 'reorder', 'tamper', 'replay'] as const).some((k) => (plan[k] ?? 0) > 0);
  }

  async onSegment(payload: Uint8Array, publish: Publish): Promise<void> {
    const { plan, rng } = this;
    if (rng.chance(plan.tamper ?? 0)) {
      this.#count('tamper');
      void publish(tamper(payload, rng)).catch(() => undefined);
    }
    if (this.#recent.length > 1 && rng.chance(plan.replay ?? 0)) {
      this.#count('replay');
      void publish(rng.pick(this.#recent.slice(0, -1))).catch(() => undefined);
    }
    this.#remember(payload);
    if (this.#held === undefined && rng.chance(plan.reorder ?? 0)) {
      // Hold this one back until the next segment has gone out (or a short while has passed).
      this.#count('reorder');
      const timer = setTimeout(() => this.#release(publish), rng.int(20, 300));
      this.#held = { payload, timer };
      return;
    }
    const sent = publish(payload);
    if (rng.chance(plan.duplicate ?? 0)) {
      this.#count('duplicate');
      for (let n = rng.int(1, 4); n > 0; n--) void publish(payload).catch(() => undefined);
    }
    this.#release(publish);
    await sent;
  }

  /** Drops any held segment without sending it (the agent died: its outbox re-sends it). */
  reset(): void {
    if (this.#held !== undefined) clearTimeout(this.#held.timer);
    this.#held = undefined;
  }

  #release(publish: Publish): void {
    const held = this.#held;
    if (held === undefined) return;
    clearTimeout(held.timer);
    this.#held = undefined;
    void publish(held.payload).catch(() => undefined);
  }

  #remember(payload: Uint8Array): void {
    this.#recent.push(payload);
    if (this.#recent.length > REPLAY_MEMORY) this.#recent.shift();
  }

  #count(kind: FaultKind): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
  }
}

/** A copy with one to three bytes flipped anywhere after the type and version bytes. */
export function tamper(payload: Uint8Array, rng: Rng): Uint8Array {
  const copy = Uint8Array.from(payload);
  for (let n = rng.int(1, 3); n > 0; n--) {
    const at = rng.int(2, copy.length - 1);
    copy[at] = copy[at]! ^ (1 << rng.int(0, 7));
  }
  return copy;
}
