// Watches the meter's readings for the agent: stale and frozen meters are logged, kept in the
// outbox for `tally-agent status`, and shown in the snapshot. Nothing here changes a unit.
import type { Clock, Timer } from './clock.js';
import { MeterHealth, type HealthState } from './meter/health.js';
import type { MeterHealthRecord, OutboxStore } from './outbox/types.js';
import type { AgentCode } from './codes.js';

export interface MeterWatchOptions {
  readonly staleMs: number;
  readonly frozenMs: number;
  readonly clock: Clock;
  readonly store: OutboxStore;
  readonly log: (code: AgentCode, detail?: string) => void;
}

export class MeterWatch {
  private health: MeterHealth | undefined;
  private timer: Timer | undefined;
  private record: MeterHealthRecord | undefined;

  constructor(private readonly o: MeterWatchOptions) {}

  /** Starts watching; a meter the last run left stale or frozen stays so until it recovers. */
  start(stored: MeterHealthRecord | undefined): void {
    const { staleMs, frozenMs, clock } = this.o;
    this.record = stored;
    this.health = new MeterHealth(staleMs, frozenMs, clock.now(), stored?.state ?? 'ok');
    const shortest = Math.min(...[staleMs, frozenMs].filter((ms) => ms > 0));
    if (Number.isFinite(shortest)) {
      // Checked four times per period, so a change is seen within a quarter of it.
      const every = Math.max(10, Math.min(60_000, Math.floor(shortest / 4)));
      this.timer = clock.every(every, () => this.apply(this.health?.check(clock.now())));
    }
  }

  reading(exact: bigint): void {
    this.apply(this.health?.reading(exact, this.o.clock.now()));
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  get state(): HealthState {
    return this.health?.current ?? 'ok';
  }

  get since(): number | undefined {
    return this.record?.sinceMs;
  }

  private apply(change: ReturnType<MeterHealth['check']>): void {
    if (change === undefined) return;
    this.o.log(change.code, change.detail);
    this.record = { state: change.state, sinceMs: this.o.clock.now(), detail: change.detail };
    try {
      this.o.store.saveMeterHealth(this.record);
    } catch (err) {
      this.o.log('FLUSH_FAILED', (err as Error).message);
    }
  }
}
