// Is the meter still telling us anything? Two conditions, both reported and neither changing a
// unit (docs/agent.md, "Stale and frozen meters"):
// - stale: no reading at all for staleMs (an MQTT meter that stopped publishing, a Modbus meter
//   whose every poll fails, an exporter that is down);
// - frozen: readings keep coming but the counter has not moved for frozenMs (a gateway answering
//   from a cache, a dead pulse input). An idle load also looks like this, so it is off unless set.
// Pure state: the caller feeds readings and the time, and logs the changes it gets back.

export type HealthState = 'ok' | 'stale' | 'frozen';

export interface HealthChange {
  readonly state: HealthState;
  readonly code: 'METER_STALE' | 'METER_FROZEN' | 'METER_RECOVERED';
  readonly detail: string;
}

export class MeterHealth {
  private lastReadingAt: number;
  private lastChangeAt: number;
  private lastValue: bigint | undefined;

  constructor(
    private readonly staleMs: number,
    private readonly frozenMs: number,
    startMs: number,
    private state: HealthState = 'ok',
  ) {
    this.lastReadingAt = startMs;
    this.lastChangeAt = startMs;
  }

  get current(): HealthState {
    return this.state;
  }

  /** A reading arrived (value in any fixed resolution: only equality matters). */
  reading(value: bigint, nowMs: number): HealthChange | undefined {
    this.lastReadingAt = nowMs;
    if (value !== this.lastValue) {
      this.lastValue = value;
      this.lastChangeAt = nowMs;
    }
    return this.check(nowMs);
  }

  check(nowMs: number): HealthChange | undefined {
    const silent = nowMs - this.lastReadingAt;
    const still = nowMs - this.lastChangeAt;
    const next: HealthState =
      this.staleMs > 0 && silent >= this.staleMs
        ? 'stale'
        : this.frozenMs > 0 && still >= this.frozenMs
          ? 'frozen'
          : 'ok';
    if (next === this.state) return undefined;
    const was = this.state;
    this.state = next;
    if (next === 'stale') return { state: next, code: 'METER_STALE', detail: `no reading for ${seconds(silent)}` };
    if (next === 'frozen') {
      return { state: next, code: 'METER_FROZEN', detail: `counter unchanged for ${seconds(still)}` };
    }
    return { state: next, code: 'METER_RECOVERED', detail: `was ${was}` };
  }
}

const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;
