// Bundles of several epochs, checked together [P-8.6]: each verifies on its own [P-8.5], they come
// from one hub and network, adjacent epochs chain by root, and each channel's spans follow one
// another with nothing billed twice: an entry starts right after the channel's previous entry, at
// the very voucher that entry ended on. It never throws.

import type { Report } from './bundle-fields.js';
import type { Ed25519Backend } from './crypto/index.js';
import { verifyBundle, type BundleReason, type BundleSummary } from './verify-bundle.js';
import type { BundleChannelSummary } from './verify-bundle-entry.js';

export interface SeriesChannelSummary {
  channelId: string;
  /** Epochs that settled the channel, in order. */
  epochs: bigint[];
  fromSeq: bigint;
  toSeq: bigint;
  /** What the series bills for the channel: the sum of its deltas. */
  units: bigint;
  amount: bigint;
  /** The channel's currency terms (a version-2 record, the same in every entry: one channel id). */
  currency?: string;
  exponent?: number;
  /** True when the first span starts at seq 1: the series covers the channel's whole history. */
  fromGenesis: boolean;
}

export interface SeriesSummary {
  network: string;
  hubKey: string;
  epochs: bigint[];
  bundles: BundleSummary[];
  channels: SeriesChannelSummary[];
  warnings: string[];
}

/** Two summaries of one epoch come from the same signed record (hub and network: check 2). */
const sameRecord = (a: BundleSummary, b: BundleSummary): boolean =>
  a.root === b.root &&
  a.prevRoot === b.prevRoot &&
  a.closedAtMs === b.closedAtMs &&
  a.entryCount === b.entryCount &&
  a.totalDeltaAmount === b.totalDeltaAmount;

export type SeriesVerdict = { ok: true; summary: SeriesSummary } | { ok: false; reasons: BundleReason[] };

/**
 * Verifies bundles of several epochs together [P-8.6]: every check of [P-8.5] on each, then the
 * checks across them. Two bundles of one epoch (two customers' parts) must carry the same signed
 * record. Returns every reason it finds; a reason about one bundle names its position.
 */
export function verifyBundleSeries(
  bundles: readonly unknown[],
  options: { hubKey?: Uint8Array; backend?: Ed25519Backend } = {},
): SeriesVerdict {
  const reasons: BundleReason[] = [];
  const reportFor =
    (bundle: number | undefined, channelId?: string): Report =>
    (check, code, detail) =>
      reasons.push({
        code,
        detail,
        clause: `8.6.${check}`,
        ...(channelId === undefined ? {} : { channelId }),
        ...(bundle === undefined ? {} : { bundle }),
      });

  // 1. each bundle verifies on its own.
  const verified: { at: number; summary: BundleSummary }[] = [];
  bundles.forEach((b, at) => {
    const verdict = verifyBundle(b, options);
    if (verdict.ok) verified.push({ at, summary: verdict.summary });
    else for (const r of verdict.reasons) reasons.push({ ...r, bundle: at });
  });
  if (bundles.length === 0) reportFor(undefined)(1, 'DECODE_FIELD', 'no bundles');
  if (reasons.length > 0) return { ok: false, reasons };

  // 2. one hub and one network.
  const first = verified[0]!.summary;
  for (const { at, summary } of verified) {
    if (summary.hubKey !== first.hubKey || summary.network !== first.network)
      reportFor(at)(
        2,
        'WRONG_CHANNEL',
        `bundle of ${summary.network}/${summary.hubKey}, first is ${first.network}/${first.hubKey}`,
      );
  }
  // 3. one signed record per epoch (parts of one epoch are merged).
  verified.sort((a, b) =>
    a.summary.epoch < b.summary.epoch ? -1 : a.summary.epoch > b.summary.epoch ? 1 : a.at - b.at,
  );
  const epochs: { epoch: bigint; at: number; summary: BundleSummary; channels: Map<string, BundleChannelSummary> }[] =
    [];
  for (const { at, summary } of verified) {
    const last = epochs[epochs.length - 1];
    if (last === undefined || last.epoch !== summary.epoch) {
      epochs.push({
        epoch: summary.epoch,
        at,
        summary,
        channels: new Map(summary.channels.map((c) => [c.channelId, c])),
      });
      continue;
    }
    if (!sameRecord(last.summary, summary)) {
      reportFor(at)(3, 'PROOF_INVALID', `two different signed records for epoch ${summary.epoch}`);
      continue;
    }
    for (const c of summary.channels) {
      const seen = last.channels.get(c.channelId);
      if (seen !== undefined && (seen.index !== c.index || seen.headHash !== c.headHash))
        reportFor(at, c.channelId)(3, 'PROOF_INVALID', `two entries for one channel in epoch ${summary.epoch}`);
      last.channels.set(c.channelId, c);
    }
  }
  // 4. adjacent epochs chain: the later record names the earlier root [P-8.4].
  for (let i = 1; i < epochs.length; i++) {
    const [a, b] = [epochs[i - 1]!, epochs[i]!];
    if (b.epoch === a.epoch + 1n && b.summary.prevRoot !== a.summary.root)
      reportFor(b.at)(4, 'BAD_LINK', `epoch ${b.epoch} does not chain to the root of epoch ${a.epoch}`);
  }
  // 5. per channel, each span starts where the previous one ended.
  const perChannel = new Map<string, { epoch: bigint; at: number; entry: BundleChannelSummary }[]>();
  for (const e of epochs)
    for (const entry of e.channels.values()) {
      const list = perChannel.get(entry.channelId) ?? [];
      list.push({ epoch: e.epoch, at: e.at, entry });
      perChannel.set(entry.channelId, list);
    }
  const channels: SeriesChannelSummary[] = [];
  for (const [channelId, list] of perChannel) {
    for (let i = 1; i < list.length; i++) {
      const [a, b] = [list[i - 1]!, list[i]!];
      const report = reportFor(b.at, channelId);
      const where = `epoch ${b.epoch} after epoch ${a.epoch}`;
      if (b.entry.fromSeq <= a.entry.toSeq)
        report(5, 'SEQ_STALE', `${where}: seqs ${b.entry.fromSeq}..${a.entry.toSeq} billed twice`);
      else if (b.entry.fromSeq > a.entry.toSeq + 1n)
        report(5, 'SEQ_GAP', `${where}: seqs ${a.entry.toSeq + 1n}..${b.entry.fromSeq - 1n} are in no bundle given`);
      // Same seq, same hash: the span starts at the very voucher the device signed as the previous
      // entry's head, so its previous cum is that entry's cum [P-8.5 checks 28, 32].
      else if (b.entry.prevHeadHash !== a.entry.headHash)
        report(5, 'BAD_LINK', `${where}: the span does not start at the voucher the previous one ended on`);
    }
    const firstEntry = list[0]!.entry;
    const lastEntry = list[list.length - 1]!.entry;
    channels.push({
      channelId,
      epochs: list.map((l) => l.epoch),
      fromSeq: firstEntry.fromSeq,
      toSeq: lastEntry.toSeq,
      units: list.reduce((s, l) => s + l.entry.deltaUnits, 0n),
      amount: list.reduce((s, l) => s + l.entry.deltaAmount, 0n),
      ...(firstEntry.currency !== undefined ? { currency: firstEntry.currency, exponent: firstEntry.exponent! } : {}),
      fromGenesis: firstEntry.fromSeq === 1n,
    });
  }
  if (reasons.length > 0) return { ok: false, reasons };
  channels.sort((a, b) => (a.channelId < b.channelId ? -1 : a.channelId > b.channelId ? 1 : 0));
  // A version-1 entry whose start another bundle of the series vouches for is proven there; only the
  // first span of each channel can still rest on the hub's word.
  const attested = channels.filter((c) => {
    const firstAt = perChannel.get(c.channelId)![0]!;
    const summary = epochs.find((e) => e.epoch === firstAt.epoch)!.summary;
    return summary.version < 2 && firstAt.entry.fromSeq > 1n;
  });
  return {
    ok: true,
    summary: {
      network: first.network,
      hubKey: first.hubKey,
      epochs: epochs.map((e) => e.epoch),
      bundles: verified.map((v) => v.summary),
      channels,
      warnings: attested.length
        ? [`${attested.length} channel(s) start with a version-1 span: that first delta is hub-attested`]
        : [],
    },
  };
}
