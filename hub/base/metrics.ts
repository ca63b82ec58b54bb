// Prometheus metrics (prom-client), one registry per hub so several hubs can run in one process
// (tests, the simulator). Metrics are floats for dashboards; the SQLite store stays the ledger.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  readonly commitBatch = new Histogram({
    name: 'tally_commit_batch_segments',
    help: 'Segments per group commit',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048],
    registers: [this.registry],
  });
  readonly commitFailures = new Counter({
    name: 'tally_commit_failures_total',
    help: 'Group commits the database refused (nothing in them was acknowledged)',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
