// Structured logs for the hub and the agent, on pino: one JSON object a line, each with a stable
// `code` from its package's table (hub/base/log-codes.ts, agent/codes.ts), so operators can ship
// them to journald, Loki or Elasticsearch and query by field (docs/operations.md, "Logs").
// No pino transports: they run in a worker thread (thread-stream) that does not bundle into the
// single-file agent. Lines go to a pino.destination (sonic-boom) on stderr instead; on a terminal
// a small formatter below turns each line into one readable line, so pino-pretty is not needed.

import { isatty } from 'node:tty';
import pino, { type DestinationStream, type Logger } from 'pino';

import type { LineLevel, LogFormat, LogLevel } from './log-levels.js';

export type { Logger } from 'pino';
export { LOG_FORMATS, LOG_LEVELS, type LineLevel, type LogFormat, type LogLevel } from './log-levels.js';
export type LogFields = Record<string, unknown>;

/** A package's log codes: the level and one-line meaning of each. */
export type LogCodeTable<C extends string> = {
  readonly [K in C]: { readonly level: LineLevel; readonly message: string };
};

/**
 * Field names whose values never reach a line, whoever passes them. No call site logs a secret;
 * this is the second fence (a config or error object logged whole by a later change).
 */
export const SECRET_FIELDS = [
  'password',
  'brokerPassword',
  'adminToken',
  'token',
  'authorization',
  'secretKey',
  'privateKey',
  'brokerSecret',
  'credential',
  'key',
] as const;
const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]);

export interface LoggerOptions {
  /** `name` field of every line: tally-hub, tally-agent, tally-sim. */
  readonly name: string;
  readonly level: LogLevel;
  /** auto (the default): readable on a terminal, JSON lines otherwise. */
  readonly format?: LogFormat;
  /** File descriptor written to; 2 (stderr) by default, stdout being for command output. */
  readonly fd?: number;
  /**
   * Synchronous writes: every line is on its way before the call returns (the agent: a power
   * cut or SIGKILL loses nothing already logged). Asynchronous (the hub) batches lines under
   * load; pino flushes the buffer on process exit, and flushLogs() does so before a fatal exit.
   */
  readonly sync?: boolean;
  /** Tests: JSON lines go to this stream instead of a file descriptor. */
  readonly stream?: DestinationStream;
}

const LEVEL_LABELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

export function createLogger(o: LoggerOptions): Logger {
  const options: pino.LoggerOptions = {
    name: o.name,
    level: o.level,
    // No pid and hostname: journald and Loki add their own; a label string reads better than 30.
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  if (o.stream) return pino(options, o.stream);
  const fd = o.fd ?? 2;
  const destination = pino.destination({ dest: fd, sync: o.sync ?? true });
  const pretty = o.format === 'pretty' || ((o.format ?? 'auto') === 'auto' && isatty(fd));
  const logger = pino(options, pretty ? prettyStream(destination) : destination);
  flushers.add(() => destination.flushSync());
  return logger;
}

/** A logger that writes nothing: the default of the libraries (tests, the simulator stay quiet). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const flushers = new Set<() => void>();

/** Writes out what asynchronous destinations still hold (before process.exit on a fatal path). */
export function flushLogs(): void {
  for (const flush of flushers) {
    try {
      flush();
    } catch {
      // A closed or broken destination (EPIPE): nothing more can be written anyway.
    }
  }
}

/**
 * Logs an uncaught exception or unhandled rejection at fatal with `code`, flushes and exits 1:
 * the line a crash leaves behind is the one an operator needs most.
 */
export function exitOnFatal(logger: Logger, code: string): void {
  const die = (err: unknown) => {
    logger.fatal({ code, err }, 'uncaught error; exiting');
    flushLogs();
    process.exit(1);
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
}

/**
 * Logging with codes from a table. `event` takes level and message from the table; `line` is for
 * codes that live in another table (the hub's reason codes) and a level the caller chooses.
 * Both check the level first, so a line that is off costs one comparison.
 */
export class CodedLog<C extends string> {
  constructor(
    readonly logger: Logger,
    private readonly table: LogCodeTable<C>,
  ) {}

  enabled(level: LineLevel): boolean {
    return this.logger.isLevelEnabled(level);
  }

  event(code: C, fields?: LogFields): void {
    const def = this.table[code];
    if (!this.logger.isLevelEnabled(def.level)) return;
    this.logger[def.level](fields === undefined ? { code } : { code, ...fields }, def.message);
  }

  line(level: LineLevel, code: string, message: string, fields?: LogFields): void {
    if (!this.logger.isLevelEnabled(level)) return;
    this.logger[level](fields === undefined ? { code } : { code, ...fields }, message);
  }
}

/** One readable line per JSON line: `12:00:01.234 WARN  CODE message key=value ...`. */
export function formatPretty(json: string): string {
  let o: LogFields;
  try {
    o = JSON.parse(json) as LogFields;
  } catch {
    return json;
  }
  const { time, level, code, msg, name: _name, err, ...rest } = o;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const label = String(typeof level === 'number' ? LEVEL_LABELS[level] : level).toUpperCase();
  let out = `${clock} ${label.padEnd(5)} ${String(code ?? '-')} ${String(msg ?? '')}`;
  for (const [k, v] of Object.entries(rest)) out += ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
  const e = err as { stack?: string; message?: string } | undefined;
  if (e) out += `\n${e.stack ?? e.message ?? JSON.stringify(e)}`;
  return `${out}\n`;
}

function prettyStream(destination: DestinationStream): DestinationStream {
  return { write: (line: string) => destination.write(formatPretty(line)) };
}
