// The agent as a library (the fleet simulator and tests import from here; the CLI is cli.ts).
export { Agent, type AgentEvents, type AgentOptions } from './agent.js';
export { Backoff, backoffCeiling, fullJitterDelay, type BackoffOptions } from './backoff.js';
export { buildFlush, unitsAllowed } from './chain.js';
export { systemClock, type Clock, type Timer } from './clock.js';
export { AGENT_CODES, type AgentCode, type AgentLogEntry, type LogLevel } from './codes.js';
export { ConfigError, CRASH_POINTS, OPTIONS, resolveConfig, type AgentConfig, type CrashPoint } from './config.js';
export { AGENT_DEFAULTS } from './defaults.js';
export { ensureDeviceKey, KEY_FILE, KeyFileError, loadDeviceKey, OUTBOX_FILE } from './keys.js';
export {
  createMeterSource,
  parseMeterSpec,
  stepCounter,
  type MeterSink,
  type MeterSource,
  type MeterSpec,
} from './meter/index.js';
export { createExecMeter } from './meter/exec.js';
export { createFileMeter } from './meter/file.js';
export { createModbusMeter } from './meter/modbus.js';
export { createMqttMeter } from './meter/mqtt-json.js';
export { createPrometheusMeter } from './meter/prometheus.js';
export { createSimMeter } from './meter/sim.js';
export { createStreamMeter } from './meter/stream.js';
export { openOutboxDatabase, openSqliteOutbox, SQLITE_INT_MAX } from './outbox/sqlite.js';
export type * from './outbox/types.js';
export { formatStatus, readStatus, toJson, type StatusReport } from './status-report.js';
