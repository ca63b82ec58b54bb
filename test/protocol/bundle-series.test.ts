// Bundles of consecutive epochs, checked together [P-8.6]: a channel's spans must follow one
// another exactly, so a hub that bills a unit twice across epochs, or a customer missing an epoch's
// bundle, is told so; parts of one epoch combine.

import { describe, expect, it } from 'vitest';
import {
  buildBundle,
  encodeEntry,
  genesisHead,
  hexToBytes,
  makeEntry,
  merkleRoot,
  signEpoch,
  sortEntries,
  verifyBundleSeries,
  type BundleEntryInput,
  type BundleJson,
  type BundleVersion,
  type EpochRecord,
  type Head,
  type SeriesVerdict,
} from '../../protocol/index.js';
import { chainSegment, headVoucher, hub, makeChannel, type ChannelFixture } from './fixtures.js';

/** One channel's signed chain, and what a hub settles of it epoch by epoch. */
function history(ch: ChannelFixture, segments: number[]) {
  const heads: { head: Head; voucher: ReturnType<typeof headVoucher>; signature: Uint8Array }[] = [];
  let prev = genesisHead(ch.channelId);
  for (const count of segments) {
    const built = chainSegment(ch, prev, count, 2n);
    heads.push({ head: built.head, voucher: headVoucher(ch, built), signature: built.segment.signature });
    prev = built.head;
  }
  /** The bundle input for the span from signed head `from` (-1 = genesis) to signed head `to`. */
  return (epoch: bigint, from: number, to: number): BundleEntryInput => {
    const start = from < 0 ? genesisHead(ch.channelId) : heads[from]!.head;
    return {
      entry: makeEntry(epoch, ch.channelId, start, heads[to]!.head),
      channelRecord: ch.recordBytes,
      headVoucher: heads[to]!.voucher,
      headSignature: heads[to]!.signature,
      ...(from < 0 ? {} : { prevVoucher: heads[from]!.voucher, prevSignature: heads[from]!.signature }),
    };
  };
}

/** Epoch bundles chained by root, as a hub closes them. */
function epochs(spans: BundleEntryInput[][], version: BundleVersion = 2, firstEpoch = 1n): BundleJson[] {
  let prevRoot: Uint8Array = new Uint8Array(32);
  return spans.map((inputs, i) => {
    const entries = sortEntries(inputs.map((x) => x.entry as ReturnType<typeof makeEntry>));
    const record: EpochRecord = {
      network: 'test-net',
      hubKey: hub.publicKey,
      epoch: firstEpoch + BigInt(i),
      closedAtMs: 1_700_000_000_000n + BigInt(i),
      entryCount: entries.length,
      totalDeltaAmount: entries.reduce((s, e) => s + e.deltaAmount, 0n),
      prevRoot,
      root: merkleRoot(entries.map(encodeEntry)),
    };
    prevRoot = record.root;
    return buildBundle({
      epochRecord: record,
      epochSignature: signEpoch(record, hub.secretKey),
      entries: inputs,
      version,
    });
  });
}

const a = makeChannel({ nonce: 1n });
const b = makeChannel({ nonce: 2n });
const spanA = history(a, [3, 4, 2, 5]);
const spanB = history(b, [1, 1]);
const reasonsOf = (v: SeriesVerdict) => (v.ok ? [] : v.reasons.map((r) => `${r.clause} ${r.code} @${r.bundle}`));

describe('verifyBundleSeries [P-8.6]', () => {
  it('accepts spans that follow one another, and sums what they bill', () => {
    const bundles = epochs([
      [spanA(1n, -1, 0), spanB(1n, -1, 0)],
      [spanA(2n, 0, 2)],
      [spanA(3n, 2, 3), spanB(3n, 0, 1)],
    ]);
    const v = verifyBundleSeries(bundles);
    expect(reasonsOf(v)).toEqual([]);
    if (!v.ok) return;
    expect(v.summary.epochs).toEqual([1n, 2n, 3n]);
    const chA = v.summary.channels.find((c) => c.channelId === Buffer.from(a.channelId).toString('hex'))!;
    expect(chA).toMatchObject({ fromSeq: 1n, toSeq: 14n, units: 28n, amount: 196n, fromGenesis: true });
    expect(chA.epochs).toEqual([1n, 2n, 3n]);
    expect(v.summary.warnings).toEqual([]);
  });

  it('finds a unit billed twice across epochs, though each bundle verifies alone', () => {
    // Epoch 2 starts again after the first segment: seqs 4..7 were billed in epoch 1 already.
    const bundles = epochs([[spanA(1n, -1, 1)], [spanA(2n, 0, 2)]]);
    expect(reasonsOf(verifyBundleSeries([bundles[0]!]))).toEqual([]);
    expect(reasonsOf(verifyBundleSeries([bundles[1]!]))).toEqual([]);
    expect(reasonsOf(verifyBundleSeries(bundles))).toEqual(['8.6.5 SEQ_STALE @1']);
  });

  it('says when a bundle in between is missing', () => {
    const bundles = epochs([[spanA(1n, -1, 0)], [spanA(2n, 0, 1)], [spanA(3n, 1, 3)]]);
    expect(reasonsOf(verifyBundleSeries([bundles[0]!, bundles[2]!]))).toEqual(['8.6.5 SEQ_GAP @1']);
  });

  it('finds adjacent epochs that do not chain by root', () => {
    const [one] = epochs([[spanA(1n, -1, 0)]]);
    const [two] = epochs([[spanA(2n, 0, 1)]], 2, 2n); // signed with a zero prevRoot
    expect(reasonsOf(verifyBundleSeries([one!, two!]))).toEqual(['8.6.4 BAD_LINK @1']);
  });

  it('merges two parts of one epoch, and refuses two records for one epoch', () => {
    const all = [spanA(1n, -1, 0), spanB(1n, -1, 0)];
    const [whole] = epochs([all]);
    const entries = sortEntries(all.map((x) => x.entry as ReturnType<typeof makeEntry>)).map(encodeEntry);
    const part = (i: number) =>
      buildBundle({
        epochRecord: hexToBytes(whole!.epoch.record),
        epochSignature: hexToBytes(whole!.epoch.signature),
        entries: [all[i]!],
        epochEntries: entries,
      });
    const merged = verifyBundleSeries([part(0), part(1)]);
    expect(merged.ok && merged.summary.channels.length).toBe(2);
    const [other] = epochs([[spanA(1n, -1, 0)]]);
    expect(reasonsOf(verifyBundleSeries([whole!, other!]))).toEqual(['8.6.3 PROOF_INVALID @1']);
  });

  it('reports a bundle that does not verify with its position, and the checks of one bundle', () => {
    const bundles = epochs([[spanA(1n, -1, 0)], [spanA(2n, 0, 1)]]);
    const broken = structuredClone(bundles[1]!);
    broken.entries[0]!.headSignature = '00'.repeat(64);
    expect(reasonsOf(verifyBundleSeries([bundles[0]!, broken]))).toEqual(['8.5.21 SIG_INVALID @1']);
    expect(reasonsOf(verifyBundleSeries([]))).toEqual(['8.6.1 DECODE_FIELD @undefined']);
  });

  it('proves a version-1 span from the previous bundle of the series; only a first span stays hub-attested', () => {
    const v1 = epochs([[spanA(1n, -1, 0)], [spanA(2n, 0, 1)], [spanA(3n, 1, 2)]], 1);
    const all = verifyBundleSeries(v1);
    expect(all.ok && all.summary.warnings).toEqual([]);
    const tail = verifyBundleSeries(v1.slice(1));
    expect(tail.ok && tail.summary.warnings.join()).toContain('hub-attested');
  });
});
