// file:PATH: polls a file holding a cumulative counter (a sysfs pulse counter, or any reader that
// writes one). A missing or unreadable file, or one that does not hold a number, is reported and
// changes nothing.
import { readFile } from 'node:fs/promises';
import type { Clock, Timer } from '../clock.js';
import { lastLine, parseReading } from './reading.js';
import type { MeterSink, MeterSource } from './types.js';

export function createFileMeter(path: string, pollMs: number, clock: Clock, description = `file:${path}`): MeterSource {
  let timer: Timer | undefined;
  let sink: MeterSink | undefined;
  let busy: Promise<void> | undefined;
  const read = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      sink?.problem('METER_UNREADABLE', `${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return;
    }
    const parsed = parseReading(lastLine(text));
    if (parsed.ok) sink?.reading(parsed.value);
    else sink?.problem('METER_BAD_READING', `${path}: ${parsed.reason}`);
  };
  // Never two reads at once: a slow SD card must not reorder readings.
  const poll = (): Promise<void> => (busy ??= read().finally(() => { busy = undefined; }));
  return {
    description,
    start(s) {
      sink = s;
      void poll();
      timer = clock.every(pollMs, () => void poll());
    },
    pollNow: poll,
    async stop() {
      timer?.cancel();
      timer = undefined;
      await busy;
      sink = undefined;
    },
  };
}
