// exec:CMD: runs CMD through /bin/sh every poll; the last non-empty line of its output is the
// cumulative counter. A failing, hanging or babbling command is reported and changes nothing.
import { execFile } from 'node:child_process';
import type { Clock } from '../clock.js';
import { createPollingMeter } from './polling.js';
import { lastLine, parseReading } from './reading.js';
import type { MeterSource } from './types.js';

const MAX_OUTPUT_BYTES = 4096;

export function createExecMeter(
  command: string,
  pollMs: number,
  clock: Clock,
  description = `exec:${command}`,
): MeterSource {
  const timeoutMs = Math.max(1000, pollMs * 5);
  return createPollingMeter(
    description,
    pollMs,
    clock,
    (sink) =>
      new Promise((resolve) => {
        execFile(
          '/bin/sh',
          ['-c', command],
          { timeout: timeoutMs, maxBuffer: MAX_OUTPUT_BYTES, windowsHide: true },
          (err, stdout) => {
            if (err !== null) {
              sink?.problem('METER_UNREADABLE', `${command}: ${err.killed ? 'timed out' : err.message.split('\n')[0]}`);
            } else {
              const parsed = parseReading(lastLine(stdout));
              if (parsed.ok) sink?.reading(parsed.value);
              else sink?.problem('METER_BAD_READING', `${command}: ${parsed.reason}`);
            }
            resolve();
          },
        );
      }),
  );
}
