// Checks settlement bundle files offline and says what it found: the one implementation behind
// `tally-verify` (standalone, no native code) and `tally-hub verify`. The checks themselves are
// protocol's: one bundle by verifyBundle [P-8.5], the bundles of several epochs together by
// verifyBundleSeries [P-8.6] (each channel's spans follow one another: nothing billed twice). This
// file reads the files, formats the verdict and picks the exit code: 0 valid, 1 invalid (every
// reason listed with the check that failed), 2 unreadable or bad usage.

import { readFileSync } from 'node:fs';
import {
  formatMoney,
  verifyBundle,
  verifyBundleSeries,
  type BundleReason,
  type BundleSummary,
  type SeriesSummary,
} from '../protocol/index.js';

export const EXIT_VALID = 0;
export const EXIT_INVALID = 1;
export const EXIT_UNREADABLE = 2;

export interface VerifyFileOptions {
  /** Also require that this hub key (64 hex characters) signed the epoch. */
  hubKey?: string;
  json?: boolean;
}

export interface VerifyFileOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** JSON with money and sequence numbers (bigints) as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
}

/** Money of one channel, exact: "0.000300 EUR", or "300 minor units" for a version-1 channel. */
const money = (minor: bigint, c: { currency?: string; exponent?: number }) => formatMoney(minor, c);

/**
 * The bundle's delta per currency. The epoch record's total is a sum of minor units over every
 * channel [P-8.4]; it means money only when all share one currency and exponent.
 */
function totalsByCurrency(channels: BundleSummary['channels']): string[] {
  const totals = new Map<string, { minor: bigint; currency?: string; exponent?: number }>();
  for (const c of channels) {
    const key = c.currency === undefined ? '' : `${c.currency} ${c.exponent}`;
    const t = totals.get(key) ?? {
      minor: 0n,
      ...(c.currency !== undefined ? { currency: c.currency, exponent: c.exponent! } : {}),
    };
    t.minor += c.deltaAmount;
    totals.set(key, t);
  }
  return [...totals.values()].map((t) => money(t.minor, t));
}

function bundleLines(s: BundleSummary, indent: string): string[] {
  const lines = [
    `${indent}  ${s.format}, deltas ${s.deltas}`,
    `${indent}  ${s.channels.length} of ${s.entryCount} entries${s.complete ? ' (complete)' : ''}, total delta ${s.totalDeltaAmount} minor units, root ${s.root}`,
  ];
  if (s.channels.some((c) => c.currency !== undefined))
    lines.push(`${indent}  delta of these entries: ${totalsByCurrency(s.channels).join(' + ')}`);
  for (const c of s.channels)
    lines.push(
      `${indent}  ${c.channelId} seq ${c.fromSeq}..${c.toSeq} +${c.deltaUnits} ${c.unit} = +${money(c.deltaAmount, c)} (cum ${money(c.cumAmount, c)})`,
    );
  return lines;
}

function seriesLines(s: SeriesSummary): string[] {
  const lines = [`valid: ${s.bundles.length} bundles, epochs ${s.epochs.join(', ')} of ${s.network}, hub ${s.hubKey}`];
  for (const b of s.bundles) lines.push(`  epoch ${b.epoch}`, ...bundleLines(b, '  '));
  lines.push('  per channel, over the series (no seq billed twice):');
  for (const c of s.channels)
    lines.push(
      `    ${c.channelId} seq ${c.fromSeq}..${c.toSeq} in epochs ${c.epochs.join(', ')}: +${c.units} = +${money(c.amount, c)}${c.fromGenesis ? ', from seq 1' : ''}`,
    );
  for (const w of [...s.bundles.flatMap((b) => b.warnings), ...s.warnings]) lines.push(`warning: ${w}`);
  return lines;
}

function reasonLines(reasons: BundleReason[], files: string[]): string[] {
  const lines = [`INVALID: ${reasons.length} problem(s)`];
  for (const r of reasons) {
    const where = r.bundle === undefined || files.length < 2 ? '' : ` ${files[r.bundle]}`;
    lines.push(`  ${r.code} (${r.clause})${where}${r.channelId ? ` [${r.channelId}]` : ''}: ${r.detail}`);
  }
  return lines;
}

const text = (lines: string[]) => lines.join('\n') + '\n';

/**
 * Verifies the bundles in `files` ("-" reads standard input): one on its own, several as a series.
 * Never throws for bad input: an unreadable file or a malformed hub key is exit 2 with the reason
 * on stderr.
 */
export function verifyFiles(
  files: string[],
  options: VerifyFileOptions,
  name: string,
  read: (file: string) => string = (f) => readFileSync(f === '-' ? 0 : f, 'utf8'),
): VerifyFileOutput {
  const unreadable = (why: string) => ({ code: EXIT_UNREADABLE, stdout: '', stderr: `${name}: ${why}\n` });
  if (files.length === 0) return unreadable('no bundle file given');
  let hubKey: Uint8Array | undefined;
  if (options.hubKey !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(options.hubKey)) return unreadable('--hub-key must be 64 hex characters');
    hubKey = Uint8Array.from(Buffer.from(options.hubKey, 'hex'));
  }
  const docs: unknown[] = [];
  for (const file of files) {
    try {
      docs.push(JSON.parse(read(file)) as unknown);
    } catch (err) {
      return unreadable(`cannot read ${file === '-' ? 'standard input' : file}: ${(err as Error).message}`);
    }
  }
  const checks = hubKey ? { hubKey } : {};
  if (docs.length === 1) {
    const verdict = verifyBundle(docs[0], checks);
    const stdout = options.json
      ? toJson(verdict.ok ? { valid: true, summary: verdict.summary } : { valid: false, reasons: verdict.reasons })
      : verdict.ok
        ? text([
            `valid: epoch ${verdict.summary.epoch} of ${verdict.summary.network}, hub ${verdict.summary.hubKey}`,
            ...bundleLines(verdict.summary, ''),
            ...verdict.summary.warnings.map((w) => `warning: ${w}`),
          ])
        : text(reasonLines(verdict.reasons, files));
    return { code: verdict.ok ? EXIT_VALID : EXIT_INVALID, stdout, stderr: '' };
  }
  const verdict = verifyBundleSeries(docs, checks);
  const named = (reasons: BundleReason[]) =>
    reasons.map((r) => (r.bundle === undefined ? r : { ...r, file: files[r.bundle] }));
  const stdout = options.json
    ? toJson(verdict.ok ? { valid: true, series: verdict.summary } : { valid: false, reasons: named(verdict.reasons) })
    : text(verdict.ok ? seriesLines(verdict.summary) : reasonLines(verdict.reasons, files));
  return { code: verdict.ok ? EXIT_VALID : EXIT_INVALID, stdout, stderr: '' };
}
