// Prometheus metrics (prom-client), one registry per hub so several hubs can run in one process
// (tests, the simulator). Metrics are floats for dashboards; the SQLite store stays the ledger.
// monitoring/ holds the alert rules and the Grafana dashboard built on these names;
// test/hub/monitoring.test.ts runs promtool over both and over a live scrape.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { REASONS } from '../../protocol/index.js';
import { HUB_REASONS } from './reasons.js';
import { WebhookMetrics } from './webhook-metrics.js';
import { WEBHOOK_EVENT_TYPES } from './webhook-config.js';

/** What the ledger gauges show, read from committed state at scrape time. */
export interface LedgerTotals {
  channelsByState: Record<string, number>;
  acceptedAmount: bigint;
  settledAmount: bigint;
  lastEpoch?: { epoch: bigint; closedAtMs: bigint };
  /** Only when the hub anchors epoch roots (docs/settlement.md). */
  anchor?: { pending: number; lastAnchored: bigint | null };
}

// A 1 Hz snapshot is plenty for a 15 s scrape and keeps one scrape from walking the channels once
// per gauge.
const LEDGER_SNAPSHOT_MS = 1000;

// prom-client's process gauges named *_total fail `promtool check metrics` (a gauge must not end
// in _total); nodejs_active_{handles,requests,resources}{type} carry the same numbers.
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * One committed segment's time through the hub, in this process's performance.now() milliseconds:
 * reached the hub (handed over by the broker), its group commit returned, its receipt was handed to
 * the broker. What an embedding process (the simulator) joins with the device side's stamps.
 */
export type SegmentStagesListener = (
  channelIdHex: string,
  lastSeq: bigint,
  arrivedAt: number,
  committedAt: number,
  receiptAt: number,
) => void;

/** Finer at the low end than the end-to-end buckets: a healthy hub stage is well under 20 ms. */
const STAGE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
/** The API codes counted in tally_api_refusals_total, each with a series from the start. */
export const API_REFUSALS = ['API_UNAUTHORIZED', 'API_RATE_LIMITED', 'API_HOST_DENIED', 'API_BUSY'] as const;

export class HubMetrics {
  readonly registry = new Registry();
  readonly vouchersAccepted = new Counter({
    name: 'tally_vouchers_accepted_total',
    help: 'Vouchers accepted and committed (duplicates excluded)',
    registers: [this.registry],
  });
  readonly vouchersRejected = new Counter({
    name: 'tally_vouchers_rejected_total',
    help: 'Vouchers refused, by reason code (an undecodable message counts 1)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly unitsAccepted = new Counter({
    name: 'tally_units_accepted_total',
    help: 'Units accepted and committed',
    registers: [this.registry],
  });
  readonly amountAccepted = new Counter({
    name: 'tally_amount_accepted_total',
    help: 'Money accepted and committed, in minor units (a float: exact below 2^53)',
    registers: [this.registry],
  });
  readonly segmentsAccepted = new Counter({
    name: 'tally_segments_accepted_total',
    help: 'Segments accepted and committed',
    registers: [this.registry],
  });
  readonly duplicates = new Counter({
    name: 'tally_duplicate_segments_total',
    help: 'Exact duplicate segments acknowledged again and not counted',
    registers: [this.registry],
  });
  readonly receiptsSent = new Counter({
    name: 'tally_receipts_sent_total',
    help: 'Receipts published (one per channel per commit, plus re-acknowledgements)',
    registers: [this.registry],
  });
  readonly controlsSent = new Counter({
    name: 'tally_controls_sent_total',
    help: 'Control messages published, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly devicesConnected = new Gauge({
    name: 'tally_devices_connected',
    help: 'Devices connected to the embedded broker (or reported online by status)',
    registers: [this.registry],
  });
  readonly ingestLatency = new Histogram({
    name: 'tally_ingest_latency_seconds',
    help: 'From a segment reaching the hub to the publication of the receipt covering it',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  readonly ingestStage = new Histogram({
    name: 'tally_ingest_stage_seconds',
    help: 'A segment through the hub by stage: commit (reached the hub -> its group commit returned), receipt (commit -> receipt handed to the broker)',
    labelNames: ['stage'] as const,
    buckets: STAGE_BUCKETS,
    registers: [this.registry],
  });
  readonly commitBatch = new Histogram({
    name: 'tally_commit_batch_segments',
    help: 'Segments per group commit',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048],
    registers: [this.registry],
  });
  /** Group commits made so far (the histogram's count). */
  async groupCommits(): Promise<number> {
    const { values } = await this.commitBatch.get();
    return values.find((v) => v.metricName === 'tally_commit_batch_segments_count')?.value ?? 0;
  }

  readonly descriptorErrors = new Counter({
    name: 'tally_descriptor_errors_total',
    help: 'Out of file descriptors (EMFILE: this process, ENFILE: the system), by where it was seen: accepting mqtt or http connections, or the once-a-second probe',
    labelNames: ['code', 'where'] as const,
    registers: [this.registry],
  });
  readonly descriptorsExhausted = new Gauge({
    name: 'tally_descriptors_exhausted',
    help: '1 while the hub is out of file descriptors (new connections are refused), else 0',
    registers: [this.registry],
  });
  /** HTTP requests refused before a handler ran, by API code (token, rate, Host, live streams). */
  readonly apiRefusals = new Counter({
    name: 'tally_api_refusals_total',
    help: 'HTTP API requests refused: missing or wrong token, rate limit, Host guard, live streams full',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly verifyWorkerExits = new Counter({
    name: 'tally_verify_worker_exits_total',
    help: 'Signature-check worker threads that ended unasked (their checks were answered HUB_INTERNAL and sent again)',
    registers: [this.registry],
  });
  readonly verifyWorkers = new Gauge({
    name: 'tally_verify_workers',
    help: 'Signature-check worker threads running (0 with --verify-workers 0, or when none could be kept running: the main thread checks)',
    registers: [this.registry],
  });
  readonly commitFailures = new Counter({
    name: 'tally_commit_failures_total',
    help: 'Group commits the database refused (nothing in them was acknowledged)',
    registers: [this.registry],
  });

  /** Webhook delivery (base/webhook-metrics.ts). */
  readonly webhooks: WebhookMetrics;
  /** Set by an embedding process that wants every committed segment's stage times. */
  segmentStages: SegmentStagesListener | undefined;

  #ledger: (() => Promise<LedgerTotals>) | undefined;
  #snapshot: { at: number; totals: Promise<LedgerTotals | undefined> } | undefined;

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(name);
    }
    // A series appears at zero for every reason code, so the first refusal of a kind is a rise
    // that rate() and increase() see, not a series that starts at 1 [P-9].
    for (const reason of [...Object.keys(REASONS), ...Object.keys(HUB_REASONS)])
      this.vouchersRejected.inc({ reason }, 0);
    this.descriptorErrors.inc({ code: 'EMFILE', where: 'mqtt' }, 0);
    this.descriptorsExhausted.set(0);
    for (const code of API_REFUSALS) this.apiRefusals.inc({ code }, 0);
    this.#ledgerGauges();
    this.webhooks = new WebhookMetrics(this.registry, WEBHOOK_EVENT_TYPES);
  }

  /** A segment was committed and its receipt handed to the broker (times from performance.now()). */
  observeSegment(
    channelIdHex: string,
    lastSeq: bigint,
    arrivedAt: number,
    committedAt: number,
    receiptAt: number,
  ): void {
    this.ingestLatency.observe((receiptAt - arrivedAt) / 1000);
    this.#commitStage.observe((committedAt - arrivedAt) / 1000);
    this.#receiptStage.observe((receiptAt - committedAt) / 1000);
    this.segmentStages?.(channelIdHex, lastSeq, arrivedAt, committedAt, receiptAt);
  }

  // Label lookups once, not per observation.
  readonly #commitStage = this.ingestStage.labels({ stage: 'commit' });
  readonly #receiptStage = this.ingestStage.labels({ stage: 'receipt' });

  /** Feeds the ledger gauges (channels by state, accepted and settled money, the last epoch). */
  watchLedger(totals: () => Promise<LedgerTotals>): void {
    this.#ledger = totals;
    this.#snapshot = undefined;
  }

  /** One read of the store serves every gauge of a scrape (the gauges collect concurrently). */
  #totals(): Promise<LedgerTotals | undefined> {
    const ledger = this.#ledger;
    if (ledger === undefined) return Promise.resolve(undefined);
    const now = Date.now();
    if (this.#snapshot === undefined || now - this.#snapshot.at >= LEDGER_SNAPSHOT_MS)
      this.#snapshot = { at: now, totals: ledger().catch(() => undefined) };
    return this.#snapshot.totals;
  }

  #ledgerGauges(): void {
    const totals = () => this.#totals();
    const gauge = (name: string, help: string, read: (t: LedgerTotals) => number | undefined) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect(this: Gauge) {
          const t = await totals();
          const value = t === undefined ? undefined : read(t);
          if (value !== undefined) this.set(value);
        },
      });
    new Gauge({
      name: 'tally_channels',
      help: 'Channels by state (open, exhausted, closed, revoked)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      async collect(this: Gauge<'state'>) {
        for (const [state, n] of Object.entries((await totals())?.channelsByState ?? {})) this.set({ state }, n);
      },
    });
    // Money from the ledger: survives restarts, unlike the counters above. Floats, exact below 2^53
    // minor units; the ledger and `tally-hub stats` keep the exact integers.
    gauge('tally_ledger_accepted_amount', 'Money accepted over all channels, in minor units', (t) =>
      Number(t.acceptedAmount),
    );
    gauge('tally_ledger_settled_amount', 'Money settled in epochs over all channels, in minor units', (t) =>
      Number(t.settledAmount),
    );
    gauge('tally_settlement_epochs', 'Epochs closed so far (epochs are numbered from 1 without gaps)', (t) =>
      Number(t.lastEpoch?.epoch ?? 0n),
    );
    // A timestamp, not an age (the Prometheus convention): the age is time() minus it.
    gauge(
      'tally_settlement_last_epoch_timestamp_seconds',
      'When the last epoch closed, in Unix seconds (0 before the first epoch)',
      (t) => Number(t.lastEpoch?.closedAtMs ?? 0n) / 1000,
    );
    // Absent unless the hub anchors: an alert on pending > 0 for long means the chain is not taking
    // the hub's transactions (no funds, endpoint down, a conflict an operator must look at).
    gauge(
      'tally_anchor_pending_epochs',
      'Closed epochs whose root is not anchored on chain yet',
      (t) => t.anchor?.pending,
    );
    gauge('tally_anchor_last_epoch', 'The highest epoch whose root is anchored on chain (0 before the first)', (t) =>
      t.anchor === undefined ? undefined : Number(t.anchor.lastAnchored ?? 0n),
    );
  }
}
