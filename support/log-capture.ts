// A pino logger whose lines are kept in memory, parsed: what tests read instead of stderr.
import { createLogger, type Logger, type LogLevel } from '../common/log.js';

export interface LogLine {
  readonly level: string;
  readonly code: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface CapturedLogs {
  readonly logger: Logger;
  /** Every line written so far, parsed. */
  readonly lines: LogLine[];
  /** The raw JSON text of every line, as an operator's log shipper would see it. */
  readonly text: () => string;
}

export function captureLogs(level: LogLevel = 'trace', name = 'test'): CapturedLogs {
  const raw: string[] = [];
  const lines: LogLine[] = [];
  const logger = createLogger({
    name,
    level,
    stream: {
      write: (line: string) => {
        raw.push(line);
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  });
  return { logger, lines, text: () => raw.join('') };
}
