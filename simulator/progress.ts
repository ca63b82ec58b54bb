// Live progress on a terminal: one line rewritten in place about once a second. Quiet when the
// output is not a terminal (CI logs, pipes), where a final report is all anyone wants.
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

export class Progress {
  readonly #out: Writable & { isTTY?: boolean; columns?: number };
  readonly #enabled: boolean;
  #lastLength = 0;

  constructor(out: Writable & { isTTY?: boolean; columns?: number }, enabled = out.isTTY === true) {
    this.#out = out;
    this.#enabled = enabled;
  }

  update(s: ProgressSample): void {
    if (!this.#enabled) return;
    const pct = Math.min(100, Math.round((s.elapsedS / Math.max(s.durationS, 0.001)) * 100));
    const line =
      `${s.phase} ${pct.toString().padStart(3)}% ${s.elapsedS.toFixed(0)}/${s.durationS}s | ` +
      `${Math.round(s.vouchersPerSec)} v/s | p99 ${s.p99Ms.toFixed(1)} ms | backlog ${s.backlog} | ` +
      `rejected ${s.rejected} | online ${s.connected}/${s.devices}`;
    const width = this.#out.columns ?? 120;
    const text = line.slice(0, width - 1);
    this.#out.write(`\r${text}${' '.repeat(Math.max(0, this.#lastLength - text.length))}`);
    this.#lastLength = text.length;
  }

  done(): void {
    if (!this.#enabled || this.#lastLength === 0) return;
    this.#out.write('\n');
    this.#lastLength = 0;
  }
}
