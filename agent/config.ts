// The one place where agent configuration is read and checked. Values flow one way:
// CLI flags > environment (TALLY_AGENT_*) > config file (--config FILE, JSON) > defaults.
// resolveConfig merges them once, validates every field with a clear message, and returns a
// frozen object that is passed down. No other agent module reads process.env.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../common/config-error.js';
import { fromHex } from '../protocol/index.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../common/log-levels.js';
import { AGENT_DEFAULTS as D } from './defaults.js';
import { parseMeterSpec, type MeterSpec } from './meter/spec.js';

export { ConfigError };

export type AgentCommand = 'init' | 'run' | 'status';

/** Kill points used only by the crash tests (TALLY_AGENT_CRASH_AT=<point>[:n]). */
export const CRASH_POINTS = ['before-commit', 'after-commit', 'after-publish'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export interface AgentConfig {
  readonly data: string;
  readonly broker: string | undefined;
  readonly hubKey: Uint8Array | undefined;
  readonly meter: MeterSpec;
  readonly batch: number;
  readonly batchMs: number;
  readonly pollMs: number;
  readonly meterStaleMs: number;
  readonly meterFrozenMs: number;
  readonly window: number;
  readonly maxBacklog: number;
  readonly ackTimeoutMs: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly tlsCa: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly json: boolean;
  /** Test-only: SIGKILL the process at this point (the n-th time it is reached). */
  readonly crashAt: { readonly point: CrashPoint; readonly nth: number } | undefined;
}

type Kind = 'string' | 'int' | 'hex32' | 'meter' | 'level' | 'format' | 'bool';
interface OptionSpec {
  readonly kind: Kind;
  readonly env: string;
  readonly min?: number;
  readonly max?: number;
  readonly default?: unknown;
}

/** Every option, with its environment variable. docs/agent.md documents the same table. */
export const OPTIONS = {
  data: { kind: 'string', env: 'TALLY_AGENT_DATA', default: D.data },
  broker: { kind: 'string', env: 'TALLY_AGENT_BROKER' },
  hubKey: { kind: 'hex32', env: 'TALLY_AGENT_HUB_KEY' },
  meter: { kind: 'meter', env: 'TALLY_AGENT_METER', default: D.meter },
  // [P-4.4] a segment holds at most 1024 vouchers.
  batch: { kind: 'int', env: 'TALLY_AGENT_BATCH', min: 1, max: 1024, default: D.batch },
  batchMs: { kind: 'int', env: 'TALLY_AGENT_BATCH_MS', min: 10, max: 3_600_000, default: D.batchMs },
  pollMs: { kind: 'int', env: 'TALLY_AGENT_POLL_MS', min: 10, max: 3_600_000, default: D.pollMs },
  // 15 minutes: three times Tasmota's default telemetry period (300 s). 0 turns the check off.
  meterStaleMs: { kind: 'int', env: 'TALLY_AGENT_METER_STALE_MS', min: 0, max: 604_800_000, default: D.meterStaleMs },
  // Off by default: an idle load is not a fault.
  meterFrozenMs: {
    kind: 'int',
    env: 'TALLY_AGENT_METER_FROZEN_MS',
    min: 0,
    max: 604_800_000,
    default: D.meterFrozenMs,
  },
  window: { kind: 'int', env: 'TALLY_AGENT_WINDOW', min: 1, max: 1024, default: D.window },
  maxBacklog: {
    kind: 'int',
    env: 'TALLY_AGENT_MAX_BACKLOG',
    min: 1024,
    max: 1_000_000_000,
    default: D.maxBacklog,
  },
  ackTimeoutMs: { kind: 'int', env: 'TALLY_AGENT_ACK_TIMEOUT_MS', min: 100, max: 3_600_000, default: D.ackTimeoutMs },
  reconnectMinMs: {
    kind: 'int',
    env: 'TALLY_AGENT_RECONNECT_MIN_MS',
    min: 1,
    max: 3_600_000,
    default: D.reconnectMinMs,
  },
  reconnectMaxMs: {
    kind: 'int',
    env: 'TALLY_AGENT_RECONNECT_MAX_MS',
    min: 1,
    max: 3_600_000,
    default: D.reconnectMaxMs,
  },
  tlsCa: { kind: 'string', env: 'TALLY_AGENT_TLS_CA' },
  tlsCert: { kind: 'string', env: 'TALLY_AGENT_TLS_CERT' },
  tlsKey: { kind: 'string', env: 'TALLY_AGENT_TLS_KEY' },
  logLevel: { kind: 'level', env: 'TALLY_AGENT_LOG_LEVEL', default: D.logLevel },
  logFormat: { kind: 'format', env: 'TALLY_AGENT_LOG_FORMAT', default: D.logFormat },
  json: { kind: 'bool', env: 'TALLY_AGENT_JSON', default: D.json },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;
export const CONFIG_FILE_ENV = 'TALLY_AGENT_CONFIG';
export const CRASH_ENV = 'TALLY_AGENT_CRASH_AT';

export interface ConfigSources {
  /** Values given on the command line (commander's camelCase names); undefined = not given. */
  readonly flags?: Partial<Record<OptionName | 'config', unknown>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads the config file; injectable for tests. */
  readonly readFile?: (path: string) => string;
}

/** Merges flags > env > file > defaults, validates once, returns a frozen config or throws ConfigError. */
export function resolveConfig(command: AgentCommand, sources: ConfigSources = {}): AgentConfig {
  const flags = sources.flags ?? {};
  const env = sources.env ?? {};
  const problems: string[] = [];

  const configPath = pick(flags.config) ?? pick(env[CONFIG_FILE_ENV]);
  let file: Record<string, unknown> = {};
  if (typeof configPath === 'string') {
    file = readConfigFile(configPath, sources.readFile, problems);
  }

  const raw: Record<string, { value: unknown; from: string }> = {};
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const spec: OptionSpec = OPTIONS[name];
    const flag = pick(flags[name]);
    if (flag !== undefined) raw[name] = { value: flag, from: `--${kebab(name)}` };
    else if (pick(env[spec.env]) !== undefined) raw[name] = { value: env[spec.env], from: spec.env };
    else if (file[name] !== undefined) raw[name] = { value: file[name], from: `${String(configPath)}: ${name}` };
    else if (spec.default !== undefined) raw[name] = { value: spec.default, from: 'default' };
  }

  const out: Record<string, unknown> = {};
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const entry = raw[name];
    out[name] = entry === undefined ? undefined : convert(name, OPTIONS[name], entry, problems);
  }

  if (command === 'run') {
    if (out.broker === undefined) problems.push(`broker is required for run (--broker URL or ${OPTIONS.broker.env})`);
    else if (
      !String(out.broker)
        .split(',')
        .every((u) => /^(mqtt|mqtts|tcp|tls|ws|wss):\/\/[^\s,]+$/.test(u.trim()))
    ) {
      problems.push(
        `broker must be an mqtt://, mqtts://, ws:// or wss:// URL, or several comma-separated, got "${String(out.broker)}"`,
      );
    }
    if (out.hubKey === undefined && raw.hubKey === undefined) {
      problems.push(`hubKey is required for run (--hub-key HEX or ${OPTIONS.hubKey.env})`);
    }
  }
  const tls = [out.tlsCert, out.tlsKey].filter((v) => v !== undefined).length;
  if (tls === 1) problems.push('tlsCert and tlsKey must be given together');
  if (
    typeof out.reconnectMinMs === 'number' &&
    typeof out.reconnectMaxMs === 'number' &&
    out.reconnectMinMs > out.reconnectMaxMs
  ) {
    problems.push('reconnectMinMs must not exceed reconnectMaxMs');
  }

  const crashAt = parseCrashAt(env[CRASH_ENV], problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ ...(out as Omit<AgentConfig, 'crashAt'>), crashAt }) as AgentConfig;
}

function readConfigFile(
  path: string,
  readFile: ((p: string) => string) | undefined,
  problems: string[],
): Record<string, unknown> {
  let text: string;
  try {
    text = (readFile ?? ((p) => readFileSync(p, 'utf8')))(path);
  } catch (err) {
    problems.push(`config file ${path} cannot be read: ${(err as Error).message}`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    problems.push(`config file ${path} is not valid JSON: ${(err as Error).message}`);
    return {};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`config file ${path} must hold a JSON object`);
    return {};
  }
  const known = new Set<string>(Object.keys(OPTIONS));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) problems.push(`config file ${path}: unknown option "${key}"`);
  }
  return parsed as Record<string, unknown>;
}

function convert(name: string, spec: OptionSpec, entry: { value: unknown; from: string }, problems: string[]): unknown {
  const { value, from } = entry;
  const bad = (why: string): undefined => {
    problems.push(`${name} (from ${from}) ${why}`);
    return undefined;
  };
  switch (spec.kind) {
    case 'string':
      return typeof value === 'string' && value.length > 0 ? value : bad('must be a non-empty string');
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      return bad('must be true or false');
    case 'level':
      return (LOG_LEVELS as readonly unknown[]).includes(value)
        ? value
        : bad(`must be one of ${LOG_LEVELS.join(', ')}`);
    case 'format':
      return (LOG_FORMATS as readonly unknown[]).includes(value)
        ? value
        : bad(`must be one of ${LOG_FORMATS.join(', ')}`);
    case 'int': {
      const n =
        typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) return bad(`must be a whole number, got ${JSON.stringify(value)}`);
      if (spec.min !== undefined && n < spec.min) return bad(`must be at least ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) return bad(`must be at most ${spec.max}, got ${n}`);
      return n;
    }
    case 'hex32': {
      const bytes = typeof value === 'string' ? fromHex(value.trim()) : undefined;
      if (bytes === undefined || bytes.length !== 32)
        return bad('must be 64 hex characters (a 32-byte Ed25519 public key)');
      return bytes;
    }
    case 'meter': {
      if (typeof value !== 'string') return bad('must be a string such as sim:10, file:PATH, exec:CMD or stdin');
      const parsed = parseMeterSpec(value);
      return parsed.ok ? parsed.value : bad(parsed.reason);
    }
  }
}

function parseCrashAt(value: string | undefined, problems: string[]): AgentConfig['crashAt'] {
  if (value === undefined || value === '') return undefined;
  const m = /^([a-z-]+)(?::(\d+))?$/.exec(value);
  const point = m?.[1] as CrashPoint | undefined;
  if (m === null || point === undefined || !CRASH_POINTS.includes(point)) {
    problems.push(`${CRASH_ENV} must be one of ${CRASH_POINTS.join(', ')} optionally followed by :N`);
    return undefined;
  }
  return Object.freeze({ point, nth: m[2] === undefined ? 1 : Math.max(1, Number(m[2])) });
}

function pick(value: unknown): unknown {
  return value === undefined || value === null || value === '' ? undefined : value;
}

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
