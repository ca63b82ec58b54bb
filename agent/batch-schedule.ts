// When the agent signs a partial segment. Each agent keeps its own grid of deadlines, batchMs
// apart, whose first point is a random part of batchMs after a start (full jitter). Units wait
// for the next point of the grid, so no unit waits longer than batchMs.
//
// Why a grid and not "batchMs after the first pending unit": a deadline measured from when the
// timer happened to run drifts by however late that was. Agents that share a CPU (a simulated
// fleet, a gateway holding many meters) all run late together when it is busy, so their next
// deadlines bunch up, the next burst is busier still and makes them later again: after one stall
// the fleet signs in lockstep for as long as it runs (docs/hub.md, "What grew with the fleet").
// On a grid a late timer costs that one segment its lateness and shifts nothing after it.

export class BatchSchedule {
  /** The grid point the last armed timer aimed at; undefined until the first after a start. */
  private due: number | undefined;

  constructor(
    private readonly batchMs: number,
    private readonly random: () => number,
  ) {}

  /** Forget the grid: the next deadline is jittered again (a start, a restart from the outbox). */
  restart(): void {
    this.due = undefined;
  }

  /** Milliseconds from `now` to the next deadline, which becomes the grid's newest point. */
  delayFrom(now: number): number {
    const period = this.batchMs;
    if (this.due === undefined) {
      this.due = now + Math.max(1, Math.floor(period * this.random()));
    } else if (this.due <= now) {
      // The smallest whole number of periods that lands after now.
      this.due += (Math.floor((now - this.due) / period) + 1) * period;
    } else if (this.due - now > period) {
      // The wall clock stepped back (NTP, a skewed clock corrected): never wait past batchMs.
      this.due = now + period;
    }
    return this.due - now;
  }
}
