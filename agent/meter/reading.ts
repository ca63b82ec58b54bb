// Parses one counter reading: a decimal integer that fits in u64 [P-1.1], surrounding whitespace
// allowed. Anything else is a bad reading, never a number of units.
import { U64_MAX } from '../../protocol/index.js';

export type ReadingResult = { ok: true; value: bigint } | { ok: false; reason: string };

const MAX_READING_CHARS = 64;

export function parseReading(text: string): ReadingResult {
  const trimmed = text.trim();
  if (trimmed.length === 0) return { ok: false, reason: 'empty reading' };
  if (trimmed.length > MAX_READING_CHARS) return { ok: false, reason: 'reading too long' };
  if (!/^\d+$/.test(trimmed))
    return { ok: false, reason: `not a whole number: ${JSON.stringify(trimmed.slice(0, 24))}` };
  const value = BigInt(trimmed);
  if (value > U64_MAX) return { ok: false, reason: 'reading does not fit in u64' };
  return { ok: true, value };
}

/** The last non-empty line of a command's or file's output is the reading. */
export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines[lines.length - 1] ?? '';
}
