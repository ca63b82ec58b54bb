// Offline verification of a settlement bundle [P-8.5]. The input is untrusted JSON (or its text).
// The checks run in the order of the spec's numbered list and every failure is reported (not only
// the first) with its reason code, the item of [P-8.5] that failed, and the channel it concerns, so
// the first reason is what a verifier that stops at the first failure would give. It never throws.

import { parseBundleAnchor, type BundleAnchorJson } from './bundle-anchor.js';
import { bytesEqual, fromHex, toHex } from './bytes.js';
import { bundleFormat, type BundleVersion } from './bundle.js';
import { isObject, onlyKeys, parseHex, type JsonObject, type Report } from './bundle-fields.js';
import { defaultBackend, type Ed25519Backend } from './crypto/index.js';
import type { ReasonCode } from './errors.js';
import { compareChannelIds, decodeEpochRecord, verifyEpoch, type EpochRecord } from './settlement.js';
import { verifyEntry, type BundleChannelSummary } from './verify-bundle-entry.js';

export type { BundleChannelSummary } from './verify-bundle-entry.js';

export interface BundleReason {
  code: ReasonCode;
  detail: string;
  /** The check that failed: "8.5.n" (one bundle) or "8.6.n" (a series of bundles). */
  clause: string;
  /** Lowercase hex of the channel the reason concerns, when known. */
  channelId?: string;
  /** In a series [P-8.6], the position of the bundle the reason concerns. */
  bundle?: number;
}

export interface BundleSummary {
  format: string;
  version: BundleVersion;
  /**
   * 'device-signed': every entry's span starts at genesis or at a voucher the device signed, so each
   * delta follows from device signatures alone (version 2). 'hub-attested': the voucher before a
   * span is taken on the hub's word (version 1) [P-8.7].
   */
  deltas: 'device-signed' | 'hub-attested';
  warnings: string[];
  network: string;
  hubKey: string;
  epoch: bigint;
  closedAtMs: bigint;
  entryCount: number;
  totalDeltaAmount: bigint;
  prevRoot: string;
  root: string;
  /** True when the bundle carries every entry of the epoch. */
  complete: boolean;
  /** Where the bundle says the root is anchored (version 3); not checked against any chain here. */
  anchor?: BundleAnchorJson;
  channels: BundleChannelSummary[];
}

export type BundleVerdict = { ok: true; summary: BundleSummary } | { ok: false; reasons: BundleReason[] };

/** What each format version carries [P-8.5]. A new version is a new row, never an edit of one. */
export interface BundleFormatRules {
  version: BundleVersion;
  documentKeys: readonly string[];
  entryKeys: readonly string[];
  /** The voucher before a span comes with the device's signature over it. */
  prevSigned: boolean;
  /** The document may carry `anchor` [P-8.8] (optional even then). */
  anchor: boolean;
}

const V1_ENTRY_KEYS = ['entry', 'channelRecord', 'headVoucher', 'headSignature', 'prevVoucher', 'proof'];
export const BUNDLE_FORMATS: Readonly<Record<string, BundleFormatRules>> = Object.freeze({
  [bundleFormat(1)]: {
    version: 1,
    documentKeys: ['format', 'epoch', 'entries'],
    entryKeys: V1_ENTRY_KEYS,
    prevSigned: false,
    anchor: false,
  },
  [bundleFormat(2)]: {
    version: 2,
    documentKeys: ['format', 'epoch', 'entries'],
    entryKeys: [...V1_ENTRY_KEYS, 'prevSignature'],
    prevSigned: true,
    anchor: false,
  },
  [bundleFormat(3)]: {
    version: 3,
    documentKeys: ['format', 'epoch', 'entries', 'anchor'],
    entryKeys: [...V1_ENTRY_KEYS, 'prevSignature'],
    prevSigned: true,
    anchor: true,
  },
});

export const HUB_ATTESTED_WARNING =
  'version-1 bundle: the voucher before each span is not device-signed, so its deltas are hub-attested (cumulative totals are device-signed)';

/**
 * Verifies a settlement bundle (the parsed JSON or its text) with nothing but itself [P-8.5].
 * `hubKey`, when given, must be the key that signed the epoch. Returns every reason it finds.
 */
export function verifyBundle(
  json: unknown,
  options: { hubKey?: Uint8Array; backend?: Ed25519Backend } = {},
): BundleVerdict {
  const backend = options.backend ?? defaultBackend;
  const reasons: BundleReason[] = [];
  const reportFor =
    (channelId: string | undefined): Report =>
    (check, code, detail) =>
      reasons.push({ code, detail, clause: `8.5.${check}`, ...(channelId === undefined ? {} : { channelId }) });
  const report = reportFor(undefined);
  const failed = (): BundleVerdict => ({ ok: false, reasons });

  // 1. a JSON object (text is parsed first).
  let doc = json;
  if (typeof json === 'string') {
    try {
      doc = JSON.parse(json) as unknown;
    } catch {
      report(1, 'DECODE_FIELD', 'bundle is not JSON');
      return failed();
    }
  }
  if (!isObject(doc)) {
    report(1, 'DECODE_FIELD', 'bundle is not a JSON object');
    return failed();
  }
  // 2. a format this verifier knows: its rules decide everything below.
  const format = typeof doc.format === 'string' && Object.hasOwn(BUNDLE_FORMATS, doc.format) ? doc.format : undefined;
  if (format === undefined) {
    report(2, 'DECODE_VERSION', `format is not one of ${Object.keys(BUNDLE_FORMATS).join(', ')}`);
    return failed();
  }
  const rules = BUNDLE_FORMATS[format]!;
  // 3. only the format's fields; epoch an object, entries an array.
  onlyKeys(doc, rules.documentKeys, 'bundle', 3, report);
  if (!isObject(doc.epoch)) report(3, 'DECODE_FIELD', 'epoch is not an object');
  if (!Array.isArray(doc.entries)) report(3, 'DECODE_FIELD', 'entries is not an array');
  // The anchor's shape only: whether the chain holds it is for a verifier with an RPC endpoint.
  const anchor = rules.anchor && doc.anchor !== undefined ? parseBundleAnchor(doc.anchor, report) : undefined;
  if (!isObject(doc.epoch) || !Array.isArray(doc.entries)) return failed();

  const epoch = checkEpoch(doc.epoch, options.hubKey, backend, report);
  const entries = doc.entries as unknown[];
  // 8. no more entries than the epoch has.
  if (epoch !== undefined && entries.length > epoch.entryCount)
    report(8, 'PROOF_INVALID', `${entries.length} entries, epoch has ${epoch.entryCount}`);

  const channels: BundleChannelSummary[] = [];
  entries.forEach((raw, i) => {
    const ctx = { epoch, prevSigned: rules.prevSigned, entryKeys: rules.entryKeys, backend };
    const summary = verifyEntry(raw, `entries[${i}]`, ctx, reportFor);
    if (summary !== undefined) channels.push(summary);
  });
  if (epoch === undefined || reasons.length > 0) return failed();

  // 34. leaves are sorted by channel id [P-8.3]: in index order, channel ids strictly increase, so
  // no channel is billed twice in one epoch and no two entries claim one leaf.
  channels.sort((a, b) => a.index - b.index);
  for (let i = 1; i < channels.length; i++) {
    const [a, b] = [channels[i - 1]!, channels[i]!];
    if (a.index === b.index || compareChannelIds(fromHex(a.channelId)!, fromHex(b.channelId)!) >= 0) {
      reportFor(b.channelId)(
        34,
        'PROOF_INVALID',
        `entries at ${a.index} and ${b.index} repeat a channel or leave channel order`,
      );
    }
  }
  // 35. a complete bundle sums to the signed total.
  const complete = channels.length === epoch.entryCount;
  if (complete) {
    const total = channels.reduce((sum, c) => sum + c.deltaAmount, 0n);
    if (total !== epoch.totalDeltaAmount)
      report(35, 'PROOF_INVALID', `entries sum to ${total}, record says ${epoch.totalDeltaAmount}`);
  }
  if (reasons.length > 0) return failed();
  const anyPrev = channels.some((c) => c.fromSeq > 1n);
  const hubAttested = !rules.prevSigned && anyPrev;
  return {
    ok: true,
    summary: {
      format,
      version: rules.version,
      deltas: hubAttested ? 'hub-attested' : 'device-signed',
      warnings: hubAttested ? [HUB_ATTESTED_WARNING] : [],
      network: epoch.network,
      hubKey: toHex(epoch.hubKey),
      epoch: epoch.epoch,
      closedAtMs: epoch.closedAtMs,
      entryCount: epoch.entryCount,
      totalDeltaAmount: epoch.totalDeltaAmount,
      prevRoot: toHex(epoch.prevRoot),
      root: toHex(epoch.root),
      complete,
      channels,
      ...(anchor === undefined ? {} : { anchor }),
    },
  };
}

/** 4-7. The epoch record decodes [P-8.4] and its hub signed it (the expected hub, when given). */
function checkEpoch(
  raw: JsonObject,
  hubKey: Uint8Array | undefined,
  backend: Ed25519Backend,
  report: Report,
): EpochRecord | undefined {
  onlyKeys(raw, ['record', 'signature'], 'epoch', 4, report);
  const bytes = parseHex(raw.record, 'epoch.record', 4, report);
  const signature = parseHex(raw.signature, 'epoch.signature', 4, report, 64);
  if (bytes === undefined || signature === undefined) return undefined;
  const record = decodeEpochRecord(bytes);
  if (!record.ok) return void report(5, record.code, `epoch.record: ${record.detail ?? 'does not decode'}`);
  if (hubKey !== undefined && !bytesEqual(record.value.hubKey, hubKey))
    report(6, 'SIG_INVALID', 'epoch signed by another hub key');
  if (!verifyEpoch(bytes, signature, record.value.hubKey, backend))
    return void report(7, 'SIG_INVALID', 'hub signature over the epoch record');
  return record.value;
}
