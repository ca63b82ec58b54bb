// file:PATH: polls a file holding a cumulative counter (a sysfs pulse counter, or any reader that
// writes one). A missing or unreadable file, or one that does not hold a number, is reported and
// changes nothing.
import { open } from 'node:fs/promises';
import type { Clock } from '../clock.js';
import { createPollingMeter } from './polling.js';
import { lastLine, parseReading } from './reading.js';
import type { MeterSource } from './types.js';

export function createFileMeter(path: string, pollMs: number, clock: Clock, description = `file:${path}`): MeterSource {
  return createPollingMeter(description, pollMs, clock, async (sink) => {
    let text: string;
    try {
      text = await readSmall(path);
    } catch (err) {
      sink?.problem('METER_UNREADABLE', `${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return;
    }
    const parsed = parseReading(lastLine(text));
    if (parsed.ok) sink?.reading(parsed.value);
    else sink?.problem('METER_BAD_READING', `${path}: ${parsed.reason}`);
  });
}

const MAX_FILE_BYTES = 4096;

/** A counter file is a few bytes; never read a big file (a log pointed at by mistake) into memory. */
async function readSmall(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_FILE_BYTES) return 'file larger than 4 KiB';
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}
