// Checks a settlement bundle file offline and says what it found: the one implementation behind
// `tally-verify` (standalone, no native code) and `tally-hub verify`. The checks themselves are
// protocol's verifyBundle [P-8.5]; this file reads the file, formats the verdict and picks the
// exit code: 0 valid, 1 invalid (every reason listed), 2 unreadable or bad usage.

import { readFileSync } from 'node:fs';
import { verifyBundle, type BundleVerdict } from '../protocol/index.js';

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

/** The verdict as lines for a person: the epoch and each channel, or every problem found. */
export function formatVerdict(verdict: BundleVerdict): string {
  if (!verdict.ok) {
    const lines = [`INVALID: ${verdict.reasons.length} problem(s)`];
    for (const r of verdict.reasons) lines.push(`  ${r.code}${r.channelId ? ` [${r.channelId}]` : ''}: ${r.detail}`);
    return lines.join('\n') + '\n';
  }
  const s = verdict.summary;
  const lines = [
    `valid: epoch ${s.epoch} of ${s.network}, hub ${s.hubKey}`,
    `  ${s.channels.length} of ${s.entryCount} entries${s.complete ? ' (complete)' : ''}, total delta ${s.totalDeltaAmount}, root ${s.root}`,
  ];
  for (const c of s.channels)
    lines.push(
      `  ${c.channelId} seq ${c.fromSeq}..${c.toSeq} +${c.deltaUnits} ${c.unit} = +${c.deltaAmount} (cum ${c.cumAmount})`,
    );
  return lines.join('\n') + '\n';
}

/**
 * Verifies the bundle in `file` ("-" reads standard input). Never throws for bad input: an
 * unreadable file or a malformed --hub-key is exit 2 with the reason on stderr.
 */
export function verifyFile(
  file: string,
  options: VerifyFileOptions,
  name: string,
  read: (file: string) => string = (f) => readFileSync(f === '-' ? 0 : f, 'utf8'),
): VerifyFileOutput {
  let hubKey: Uint8Array | undefined;
  if (options.hubKey !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(options.hubKey))
      return { code: EXIT_UNREADABLE, stdout: '', stderr: `${name}: --hub-key must be 64 hex characters\n` };
    hubKey = Uint8Array.from(Buffer.from(options.hubKey, 'hex'));
  }
  let doc: unknown;
  try {
    doc = JSON.parse(read(file)) as unknown;
  } catch (err) {
    const where = file === '-' ? 'standard input' : file;
    return { code: EXIT_UNREADABLE, stdout: '', stderr: `${name}: cannot read ${where}: ${(err as Error).message}\n` };
  }
  const verdict = verifyBundle(doc, hubKey ? { hubKey } : {});
  const stdout = options.json
    ? toJson(verdict.ok ? { valid: true, summary: verdict.summary } : { valid: false, reasons: verdict.reasons })
    : formatVerdict(verdict);
  return { code: verdict.ok ? EXIT_VALID : EXIT_INVALID, stdout, stderr: '' };
}
