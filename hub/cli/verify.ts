// `tally-hub verify FILE...`: one settlement bundle checked offline [P-8.5], or the bundles of
// several epochs checked together [P-8.6] (spans follow one another: nothing billed twice). Prints
// the verdict and returns the exit code: 0 valid, 1 invalid, 2 unreadable.

import { readFileSync } from 'node:fs';
import {
  verifyBundle,
  verifyBundleSeries,
  type BundleReason,
  type BundleSummary,
  type SeriesSummary,
} from '../../protocol/index.js';
import { printJson } from './format.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

function printBundle(s: BundleSummary, indent = ''): void {
  out(`${indent}epoch ${s.epoch} of ${s.network}, hub ${s.hubKey}, ${s.format} (deltas ${s.deltas})`);
  out(
    `${indent}  ${s.channels.length} of ${s.entryCount} entries${s.complete ? ' (complete)' : ''}, total delta ${s.totalDeltaAmount}, root ${s.root}`,
  );
  for (const c of s.channels)
    out(
      `${indent}  ${c.channelId} seq ${c.fromSeq}..${c.toSeq} +${c.deltaUnits} ${c.unit} = +${c.deltaAmount} (cum ${c.cumAmount})`,
    );
}

function printSeries(s: SeriesSummary): void {
  out(`valid: ${s.bundles.length} bundles, epochs ${s.epochs.join(', ')} of ${s.network}, hub ${s.hubKey}`);
  for (const b of s.bundles) printBundle(b, '  ');
  out('  per channel, over the series (no seq billed twice):');
  for (const c of s.channels) {
    out(
      `    ${c.channelId} seq ${c.fromSeq}..${c.toSeq} in epochs ${c.epochs.join(', ')}: +${c.units} = +${c.amount}${c.fromGenesis ? ', from seq 1' : ''}`,
    );
  }
}

function printReasons(reasons: BundleReason[], files: string[]): void {
  out(`INVALID: ${reasons.length} problem(s)`);
  for (const r of reasons) {
    const where = r.bundle === undefined || files.length < 2 ? '' : ` ${files[r.bundle]}`;
    out(`  ${r.code} (${r.clause})${where}${r.channelId ? ` [${r.channelId}]` : ''}: ${r.detail}`);
  }
}

/** Reads, verifies and prints; returns the exit code. */
export function runVerify(files: string[], opts: { json?: boolean; hubKey?: Uint8Array }): number {
  const docs: unknown[] = [];
  for (const file of files) {
    try {
      docs.push(JSON.parse(readFileSync(file, 'utf8')) as unknown);
    } catch (err) {
      process.stderr.write(`tally-hub: cannot read ${file}: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const options = opts.hubKey ? { hubKey: opts.hubKey } : {};
  if (docs.length === 1) {
    const verdict = verifyBundle(docs[0], options);
    if (opts.json)
      printJson(verdict.ok ? { valid: true, summary: verdict.summary } : { valid: false, reasons: verdict.reasons });
    else if (verdict.ok) {
      out('valid:');
      printBundle(verdict.summary, '  ');
      for (const w of verdict.summary.warnings) out(`warning: ${w}`);
    } else printReasons(verdict.reasons, files);
    return verdict.ok ? 0 : 1;
  }
  const verdict = verifyBundleSeries(docs, options);
  const named = (reasons: BundleReason[]) =>
    reasons.map((r) => (r.bundle === undefined ? r : { ...r, file: files[r.bundle] }));
  if (opts.json)
    printJson(
      verdict.ok ? { valid: true, series: verdict.summary } : { valid: false, reasons: named(verdict.reasons) },
    );
  else if (verdict.ok) {
    printSeries(verdict.summary);
    for (const w of [...verdict.summary.bundles.flatMap((b) => b.warnings), ...verdict.summary.warnings])
      out(`warning: ${w}`);
  } else printReasons(verdict.reasons, files);
  return verdict.ok ? 0 : 1;
}
