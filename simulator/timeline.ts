// Latency (sign to receipt) in an HDR histogram, plus per-second buckets of throughput and
// latency for the charts of the HTML report.
import hdr from 'hdr-histogram-js';

export interface TimelinePoint {
  /** Seconds since the start of the run. */
  t: number;
  vouchersPerSec: number;
  p50Ms: number;
  p99Ms: number;
  backlog: number;
  /** Worst event-loop lag in the second, ms: of the main process (the hub's, when embedded) and of
   *  the fleet processes. */
  hubLoopMs: number;
  fleetLoopMs: number;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  count: number;
}

// Microsecond resolution, up to 10 minutes, 3 significant digits: a few hundred KiB at most.
const newHistogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });

export class Timeline {
  readonly #total = newHistogram();
  #bucket = newHistogram();
  #bucketVouchers = 0;
  #vouchers = 0;
  #bucketStartMs: number;
  readonly #startMs: number;
  readonly points: TimelinePoint[] = [];

  constructor(nowMs: number) {
    this.#startMs = nowMs;
    this.#bucketStartMs = nowMs;
  }

  /** A receipt covered `vouchers` vouchers, the oldest of which was signed `latencyMs` ago. */
  recordReceipt(vouchers: number, latencyMs: number): void {
    const us = Math.max(1, Math.round(latencyMs * 1000));
    this.#total.recordValue(us);
    this.#bucket.recordValue(us);
    this.#bucketVouchers += vouchers;
    this.#vouchers += vouchers;
  }

  /** Vouchers covered by the receipts recorded so far. */
  get vouchers(): number {
    return this.#vouchers;
  }

  /** Closes the current bucket (call about once a second). */
  tick(
    nowMs: number,
    backlog: number,
    loop: { hubMs: number; fleetMs: number } = { hubMs: 0, fleetMs: 0 },
  ): TimelinePoint {
    const spanS = Math.max(0.001, (nowMs - this.#bucketStartMs) / 1000);
    const point: TimelinePoint = {
      t: round((nowMs - this.#startMs) / 1000, 3),
      vouchersPerSec: round(this.#bucketVouchers / spanS, 1),
      p50Ms: round(percentile(this.#bucket, 50) / 1000, 3),
      p99Ms: round(percentile(this.#bucket, 99) / 1000, 3),
      backlog,
      hubLoopMs: loop.hubMs,
      fleetLoopMs: loop.fleetMs,
    };
    this.points.push(point);
    this.#bucket.reset();
    this.#bucketVouchers = 0;
    this.#bucketStartMs = nowMs;
    return point;
  }

  latency(): LatencySummary {
    const h = this.#total;
    return {
      p50: round(percentile(h, 50) / 1000, 3),
      p95: round(percentile(h, 95) / 1000, 3),
      p99: round(percentile(h, 99) / 1000, 3),
      max: round(h.maxValue / 1000, 3),
      count: h.totalCount,
    };
  }

  destroy(): void {
    this.#total.destroy();
    this.#bucket.destroy();
  }
}

/**
 * A percentile no larger than the largest value recorded. HDR answers with the top of the bucket
 * a value fell in (3 significant digits), which can lie above the true maximum: a report once
 * printed "p99 12.35 ms, max 12.34 ms".
 */
export function percentile(h: { getValueAtPercentile(p: number): number; maxValue: number }, p: number): number {
  return Math.min(h.getValueAtPercentile(p), h.maxValue);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
