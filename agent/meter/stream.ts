// stdin: one cumulative counter reading per line from a stream (the CLI passes process.stdin).
// Lines are capped so a stream without newlines cannot grow memory without bound.
import type { Readable } from 'node:stream';
import { parseReading } from './reading.js';
import type { MeterSink, MeterSource } from './types.js';

const MAX_LINE_CHARS = 256;

export function createStreamMeter(input: Readable, description = 'stdin'): MeterSource {
  let sink: MeterSink | undefined;
  let pending = '';
  let overflow = false;
  const onData = (chunk: Buffer | string): void => {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (overflow) {
        overflow = false;
        sink?.problem('METER_BAD_READING', `${description}: line longer than ${MAX_LINE_CHARS} characters`);
        continue;
      }
      if (line.trim().length === 0) continue;
      const parsed = parseReading(line);
      if (parsed.ok) sink?.reading(parsed.value);
      else sink?.problem('METER_BAD_READING', `${description}: ${parsed.reason}`);
    }
    if (pending.length > MAX_LINE_CHARS) {
      overflow = true;
      pending = '';
    }
  };
  const onEnd = (): void => sink?.problem('METER_UNREADABLE', `${description}: input closed`);
  return {
    description,
    start(s) {
      sink = s;
      input.on('data', onData);
      input.on('end', onEnd);
    },
    pollNow: async () => undefined,
    async stop() {
      input.off('data', onData);
      input.off('end', onEnd);
      sink = undefined;
    },
  };
}
