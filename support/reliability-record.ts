// The shape of a reliability result record: written by the suite in test/reliability/ (one file
// per suite in reports/reliability/), read by scripts/reliability-report.ts into the table of
// docs/reliability.md.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPORT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../reports/reliability');

export interface Figures {
  /** Units signed by devices that the hub never accepted. */
  lost?: string;
  /** Units the hub accepted more than once. */
  duplicated?: string;
  /** Messages or vouchers refused. */
  rejected?: number;
  /** Longest time from the end of a fault to the hub holding every signed unit, in ms. */
  recoveryMs?: number;
  /** Inputs tried (fuzz runs, vectors, attempts). */
  inputs?: number;
  /** Memory attacks: the hub's resident memory above its baseline at the attack's peak, and once
   *  it ended, in MiB (sampled from /proc by the test). */
  rssPeakMiB?: number;
  rssAfterMiB?: number;
}

export interface ReliabilityRecord {
  suite: string;
  case: string;
  expected: string;
  observed: string;
  figures: Figures;
  state: 'pass' | 'fail';
  /** Environment knobs in effect (fuzz runs, soak seconds), so a long run shows as such. */
  settings: Record<string, string | number>;
  finishedAt: string;
}
