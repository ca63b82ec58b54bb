// Result records of the reliability suite. Each case states what it expects, what it observed and
// its figures; the record is written to reports/reliability/<suite>.json when the file's tests end,
// with the case's pass/fail state as vitest decided it. scripts/reliability-report.ts turns these
// files into the table of docs/reliability.md, so the table shows what a real run measured.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, expect, onTestFinished } from 'vitest';

export const REPORT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../reports/reliability');

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

/** One recorder per test file; call `record` once per case, inside the test. */
export function recorder(suite: string, settings: Record<string, string | number> = {}) {
  const records: ReliabilityRecord[] = [];
  const recordedBy = new Set<string>();
  // A test that fails before it records still appears in the table, as a failure with its error.
  afterEach(({ task }) => {
    if (recordedBy.has(expect.getState().currentTestName ?? task.name)) return;
    const error = task.result?.errors?.[0]?.message ?? 'no record written';
    records.push({
      suite,
      case: task.name,
      expected: '(see the test)',
      observed: `failed before recording its observation: ${error.split('\n')[0]}`,
      figures: {},
      state: task.result?.state === 'pass' ? 'pass' : 'fail',
      settings,
      finishedAt: new Date().toISOString(),
    });
  });
  afterAll(() => {
    mkdirSync(REPORT_DIR, { recursive: true });
    writeFileSync(path.join(REPORT_DIR, `${suite}.json`), `${JSON.stringify(records, null, 2)}\n`);
  });
  return {
    record(r: { case: string; expected: string; observed: string; figures?: Figures }): void {
      const entry: ReliabilityRecord = {
        suite,
        case: r.case,
        expected: r.expected,
        observed: r.observed,
        figures: r.figures ?? {},
        state: 'fail',
        settings,
        finishedAt: new Date().toISOString(),
      };
      records.push(entry);
      recordedBy.add(expect.getState().currentTestName ?? r.case);
      // The state is vitest's verdict on the whole test, taken once its assertions have run.
      onTestFinished(({ task }) => {
        entry.state = task.result?.state === 'pass' ? 'pass' : 'fail';
      });
    },
  };
}

/** A whole-number knob from the environment (long runs on demand), with its default. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}
