// Sign -> receipt split by stage, segment by segment:
//   agent            signed and committed to the outbox -> handed to the MQTT client (fleet process)
//   broker+network   handed to the MQTT client -> reached the hub's ingest (fleet -> hub process)
//   hub              reached the hub -> group commit returned -> receipt handed to the broker
//   back             receipt handed to the broker -> receipt verified by the agent (hub -> fleet)
//
// Clocks. Each side stamps with performance.timeOrigin + performance.now(): monotonic within a
// process, and on one machine every process's timeOrigin comes from the same wall clock, with
// microsecond resolution. So the agent and hub stages (one process each) are exact, and the two
// stages that cross processes are right to within the two processes' timeOrigin readings, as long
// as the wall clock is not stepped during the run. A cross-process stage that comes out negative
// (a stepped clock) is counted as a clock anomaly and recorded as 0. The hub's stamps exist only
// for an embedded hub (its metrics hand each committed segment over in-process); against a
// running hub, its /metrics histograms hold the hub stages and the network stages are not split.
import hdr from 'hdr-histogram-js';
import { percentile, type LatencySummary } from './timeline.js';

/** A machine-wide timestamp in milliseconds (see above). */
export const wallNow = (): number => performance.timeOrigin + performance.now();

export type StageName = 'agent' | 'brokerNetwork' | 'hub' | 'hubCommit' | 'hubReceipt' | 'back' | 'total';

export interface StageReport {
  /** Per stage; null when nothing measured it (network stages against a running hub). */
  stages: Record<StageName, LatencySummary | null>;
  /** Segments with both sides' stamps (the network stages are measured on these). */
  joined: number;
  /** Segments one side saw and the other never did within the join window (re-sent, or lost). */
  unmatched: number;
  /** Cross-process stages that came out negative: the wall clock moved during the run. */
  clockAnomalies: number;
}

/** Stamps older than this without their other half are given up. */
const JOIN_WINDOW_MS = 60_000;

const newHistogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });

type Stamps = [number, number, number];

export class StageJoin {
  readonly #h = new Map<StageName, hdr.Histogram>();
  /** Hub stamps waiting for the fleet's: arrived, committed, receipt (wall ms). */
  readonly #hub = new Map<string, Stamps>();
  /** Fleet stamps waiting for the hub's: committed, published, receipt verified (wall ms). */
  readonly #fleet = new Map<string, Stamps>();
  #joined = 0;
  #unmatched = 0;
  #anomalies = 0;
  #hubSeen = false;

  constructor() {
    for (const s of ['agent', 'brokerNetwork', 'hub', 'hubCommit', 'hubReceipt', 'back', 'total'] as const)
      this.#h.set(s, newHistogram());
  }

  /** The hub committed a segment and handed its receipt to the broker. */
  hubSide(channelIdHex: string, lastSeq: bigint | number, arrived: number, committed: number, receipt: number): void {
    this.#hubSeen = true;
    this.#record('hubCommit', committed - arrived);
    this.#record('hubReceipt', receipt - committed);
    this.#record('hub', receipt - arrived);
    const key = `${channelIdHex}:${lastSeq}`;
    const fleet = this.#fleet.get(key);
    if (fleet === undefined) this.#hub.set(key, [arrived, committed, receipt]);
    else {
      this.#fleet.delete(key);
      this.#join(fleet, [arrived, committed, receipt]);
    }
  }

  /** An agent's receipt covered a segment it had committed and published. */
  fleetSide(
    channelIdHex: string,
    lastSeq: bigint | number,
    committed: number,
    published: number,
    receipt: number,
  ): void {
    this.#record('agent', published - committed);
    this.#record('total', receipt - committed);
    const key = `${channelIdHex}:${lastSeq}`;
    const hub = this.#hub.get(key);
    if (hub === undefined) {
      if (this.#hubSeen) this.#fleet.set(key, [committed, published, receipt]);
    } else {
      this.#hub.delete(key);
      this.#join([committed, published, receipt], hub);
    }
  }

  /** Gives up stamps whose other half did not come within the join window (call now and then). */
  prune(now = wallNow()): void {
    for (const map of [this.#hub, this.#fleet]) {
      for (const [key, stamps] of map) {
        if (now - stamps[2] < JOIN_WINDOW_MS) break; // insertion order is receipt order, near enough
        map.delete(key);
        this.#unmatched++;
      }
    }
  }

  report(): StageReport {
    const stages = {} as Record<StageName, LatencySummary | null>;
    for (const [name, h] of this.#h) stages[name] = h.totalCount === 0 ? null : summary(h);
    return {
      stages,
      joined: this.#joined,
      unmatched: this.#unmatched + this.#hub.size + this.#fleet.size,
      clockAnomalies: this.#anomalies,
    };
  }

  destroy(): void {
    for (const h of this.#h.values()) h.destroy();
  }

  #join(fleet: Stamps, hub: Stamps): void {
    this.#joined++;
    this.#cross('brokerNetwork', hub[0] - fleet[1]);
    this.#cross('back', fleet[2] - hub[2]);
  }

  #cross(stage: StageName, ms: number): void {
    if (ms < 0) this.#anomalies++;
    this.#record(stage, Math.max(0, ms));
  }

  #record(stage: StageName, ms: number): void {
    this.#h.get(stage)!.recordValue(Math.max(1, Math.round(ms * 1000)));
  }
}

function summary(h: hdr.Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    p50: ms(percentile(h, 50)),
    p95: ms(percentile(h, 95)),
    p99: ms(percentile(h, 99)),
    max: ms(h.maxValue),
    count: h.totalCount,
  };
}
