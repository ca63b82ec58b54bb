// The defaults of `tally-agent run`, in one table. The config (config.ts) applies them to what the
// CLI, the environment and the config file leave out; an Agent built as a library (the simulator,
// tests) applies the same ones to the options it is not given; tally-sim shows them.

export const AGENT_DEFAULTS = {
  data: './tally-agent-data',
  meter: 'sim:1',
  /** Vouchers per signed segment; [P-4.4] allows up to 1024. */
  batch: 64,
  /** Sign a partial segment after this long. */
  batchMs: 1000,
  pollMs: 1000,
  /** Segments in flight without a receipt. */
  window: 8,
  maxBacklog: 2_000_000,
  ackTimeoutMs: 15_000,
  /** 15 minutes: three times Tasmota's default telemetry period (300 s). 0 turns the check off. */
  meterStaleMs: 900_000,
  /** Off by default: an idle load is not a fault. */
  meterFrozenMs: 0,
  reconnectMinMs: 500,
  reconnectMaxMs: 60_000,
  logLevel: 'info',
  logFormat: 'auto',
  json: false,
} as const;
