// Live progress on a terminal: one line rewritten in place about once a second. Quiet when the
// output is not a terminal (CI logs, pipes) or with --quiet, where a final report is all anyone
// wants.
import type { Writable } from 'node:stream';

export interface ProgressSample {
  elapsedS: number;
  durationS: number;
  vouchersPerSec: number;
  p99Ms: number;
  backlog: number;
  rejected: number;
  connected: number;
  devices: number;
  phase: string;
}

type ProgressOut = Writable & { isTTY?: boolean; columns?: number };

/**
 * The fields of the line in display order, each with its rank (0 is kept longest). A narrow
 * terminal drops whole fields, highest rank first, instead of cutting one in half: "online 10/1"
 * read as a tenth of the fleet online.
 */
export function progressFields(s: ProgressSample): Array<{ text: string; rank: number }> {
  const pct = Math.min(100, Math.round((s.elapsedS / Math.max(s.durationS, 0.001)) * 100));
  return [
    { text: `${s.phase} ${pct.toString().padStart(3)}% ${s.elapsedS.toFixed(0)}/${s.durationS}s`, rank: 0 },
    { text: `${Math.round(s.vouchersPerSec)} v/s`, rank: 2 },
    { text: `p99 ${s.p99Ms.toFixed(1)} ms`, rank: 4 },
    { text: `backlog ${s.backlog}`, rank: 5 },
    { text: `rejected ${s.rejected}`, rank: 3 },
    { text: `online ${s.connected}/${s.devices}`, rank: 1 },
  ];
}

/** The progress line in at most `width - 1` columns (the last column would wrap on some terminals). */
export function formatProgress(s: ProgressSample, width: number): string {
  const fields = progressFields(s);
  const room = Math.max(1, width - 1);
  const join = (kept: typeof fields) => kept.map((f) => f.text).join(' | ');
  let kept = fields;
  while (kept.length > 1 && join(kept).length > room) {
    const worst = Math.max(...kept.map((f) => f.rank));
    kept = kept.filter((f) => f.rank !== worst);
  }
  const line = join(kept);
  // Only the first field is left and still too wide: a terminal a few columns across.
  return line.length > room ? line.slice(0, room) : line;
}

export class Progress {
  readonly #out: ProgressOut;
  readonly #enabled: boolean;
  #lastLength = 0;

  constructor(out: ProgressOut, enabled = out.isTTY === true) {
    this.#out = out;
    this.#enabled = enabled;
  }

  update(s: ProgressSample): void {
    if (!this.#enabled) return;
    // Read on every update: the terminal may have been resized. A pty with no size reports 0.
    const text = formatProgress(s, this.#out.columns || 80);
    this.#out.write(`\r${text}${' '.repeat(Math.max(0, this.#lastLength - text.length))}`);
    this.#lastLength = text.length;
  }

  done(): void {
    if (!this.#enabled || this.#lastLength === 0) return;
    this.#out.write('\n');
    this.#lastLength = 0;
  }
}
