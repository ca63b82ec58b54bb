// Negative settlement vectors [P-8.5, P-8.6]: bundles signed by the vector hub key that a dishonest
// hub could produce (and a few altered after signing), each with the reasons a conforming verifier
// reports, in the order of the checks of [P-8.5]. Each changes one thing in an honest epoch, so one
// check fails, except where the dishonesty itself breaks two (said in its description).

import {
  encodeEntry,
  encodeVoucher,
  genesisHead,
  hexToBytes,
  makeEntry,
  merkleProof,
  sortEntries,
  toHex,
  voucherHash,
  type BundleEntryInput,
  type BundleJson,
  type SettlementEntry,
} from '../../protocol/index.js';
import {
  closeEpoch,
  fields,
  fullVouchers,
  signedHeadOf,
  spanInput,
  T0,
  type ClosedEpoch,
  type World,
} from './world.js';

export interface BundleCase {
  name: string;
  description: string;
  /** Every check that fails, "8.5.n CODE", in the order of [P-8.5]; the first is `reason`. */
  reasons: string[];
  reason: string;
  bundle: BundleJson;
}

export interface SeriesCase {
  name: string;
  description: string;
  reasons: string[];
  reason: string;
  bundles: BundleJson[];
}

const HOUR = 3_600_000n;
const ZERO_ROOT = new Uint8Array(32);

/** The honest history: epoch 1 settles the vector channel's seq 1-3; epoch 2 its seq 4-67 and two
 *  more channels' first two vouchers; epoch 3 its seq 68-70. Every bundle version 2. */
export function honestEpochs(w: World) {
  const b = w.channel({ nonce: 2n });
  const c = w.channel({ nonce: 3n });
  const bHead = signedHeadOf(b.channelId, b.sign(genesisHead(b.channelId), 2));
  const cHead = signedHeadOf(c.channelId, c.sign(genesisHead(c.channelId), 2));
  const epoch2Inputs = (
    patch: Partial<SettlementEntry> = {},
    a: BundleEntryInput = spanInput(2n, w.a, w.h3, w.h67, patch),
  ) => [a, spanInput(2n, b, undefined, bHead), spanInput(2n, c, undefined, cHead)];
  const e1 = closeEpoch(w, {
    epoch: 1n,
    closedAtMs: T0 + HOUR / 2n,
    prevRoot: ZERO_ROOT,
    inputs: [spanInput(1n, w.a, undefined, w.h3)],
  });
  const e2 = closeEpoch(w, { epoch: 2n, closedAtMs: T0 + HOUR, prevRoot: e1.record.root, inputs: epoch2Inputs() });
  const e3 = closeEpoch(w, {
    epoch: 3n,
    closedAtMs: T0 + (3n * HOUR) / 2n,
    prevRoot: e2.record.root,
    inputs: [spanInput(3n, w.a, w.h67, w.h70)],
  });
  /** Epoch 2 again, as a dishonest hub signs it: with these inputs (and record patch). */
  const epoch2 = (inputs: BundleEntryInput[], patch = {}): ClosedEpoch =>
    closeEpoch(w, { epoch: 2n, closedAtMs: T0 + HOUR, prevRoot: e1.record.root, inputs, patch });
  return { b, c, bHead, cHead, e1, e2, e3, epoch2, epoch2Inputs };
}

const alter = (bundle: BundleJson, change: (b: BundleJson) => void): BundleJson => {
  const copy = structuredClone(bundle);
  change(copy);
  return copy;
};

const flipHex = (hex: string, at: number): string => {
  const bytes = hexToBytes(hex);
  bytes[at]! ^= 0x01;
  return toHex(bytes);
};

function bundleCase(name: string, description: string, reasons: string[], bundle: BundleJson): BundleCase {
  return { name, description, reasons, reason: reasons[0]!, bundle };
}

export function negativeBundles(w: World): BundleCase[] {
  const h = honestEpochs(w);
  const a2 = spanInput(2n, w.a, w.h3, w.h67);
  const e2 = a2.entry as SettlementEntry;
  const last64 = fullVouchers(w.a.channelId, w.seg64);
  const cases: BundleCase[] = [];

  cases.push(
    bundleCase(
      'entry-above-signed-head',
      'The entry claims one voucher more than the head the device signed (toSeq 68, one more unit); the head voucher is the signed seq 67.',
      ['8.5.20 PROOF_INVALID'],
      h.epoch2(
        h.epoch2Inputs({
          toSeq: 68n,
          cumUnits: e2.cumUnits + 1n,
          cumAmount: e2.cumAmount + 25n,
          deltaUnits: e2.deltaUnits + 1n,
          deltaAmount: e2.deltaAmount + 25n,
        }),
      ).bundle,
    ),
  );

  // A channel the hub made up for the device at 100x the price, "backed" by another channel's head.
  const madeUp = w.channel({ nonce: 4n, pricePerUnit: 2500n });
  const borrowed = h.cHead;
  cases.push(
    bundleCase(
      'made-up-channel-100x-price',
      "A channel record the hub made up for the same device at 100x the price, its entry backed by another channel's signed head. Two checks fail: the head voucher names the other channel, and its totals are not the entry's.",
      ['8.5.19 WRONG_CHANNEL', '8.5.20 PROOF_INVALID'],
      h.epoch2([
        ...h.epoch2Inputs(),
        {
          entry: {
            ...makeEntry(2n, madeUp.channelId, genesisHead(madeUp.channelId), {
              ...borrowed.head,
              cumAmount: borrowed.head.cumUnits * 2500n,
            }),
          },
          channelRecord: madeUp.recordBytes,
          headVoucher: borrowed.voucher,
          headSignature: borrowed.signature,
        },
      ]).bundle,
    ),
  );

  // A version-2 channel in EUR [P-3.1] billed under a record relabelled USD: same device, same price,
  // same seqs. The currency is part of the record, so the relabelled record names another channel.
  const eur = w.channel({ nonce: 5n, currency: 'EUR', exponent: 6, pricePerUnit: 300n });
  const eurHead = signedHeadOf(eur.channelId, eur.sign(genesisHead(eur.channelId), 2));
  const usd = w.channel({ nonce: 5n, currency: 'USD', exponent: 6, pricePerUnit: 300n });
  cases.push(
    bundleCase(
      'currency-relabelled',
      "A version-2 channel the device was granted in EUR, its entry shown with a channel record that says USD (same price and exponent). The record no longer hashes to the entry's channel id.",
      ['8.5.15 WRONG_CHANNEL'],
      h.epoch2([...h.epoch2Inputs(), { ...spanInput(2n, eur, undefined, eurHead), channelRecord: usd.recordBytes }])
        .bundle,
    ),
  );

  // The same entry twice in the tree: the channel billed twice in one epoch. The second copy's proof
  // names its own leaf (the next index), as a hub building the tree would.
  const twice = h.epoch2([a2, ...h.epoch2Inputs().slice(1), a2]);
  const leaves = sortEntries([
    e2,
    e2,
    ...h
      .epoch2Inputs()
      .slice(1)
      .map((i) => i.entry as SettlementEntry),
  ]).map(encodeEntry);
  const first = leaves.findIndex((leaf) => toHex(leaf) === toHex(encodeEntry(e2)));
  const proof = merkleProof(leaves, first + 1);
  const twiceBundle = alter(twice.bundle, (b) => {
    const copies = b.entries.filter((x) => x.entry === toHex(encodeEntry(e2)));
    copies[1]!.proof = { index: proof.index, leafCount: proof.leafCount, siblings: proof.siblings.map(toHex) };
    b.entries.sort((x, y) => x.proof.index - y.proof.index);
  });
  cases.push(
    bundleCase(
      'channel-billed-twice',
      "The same entry is two leaves of the epoch's tree (each proof valid): the channel is billed twice in one epoch.",
      ['8.5.34 PROOF_INVALID'],
      twiceBundle,
    ),
  );

  cases.push(
    bundleCase(
      'previous-voucher-inside-settled-span',
      'Epoch 3 bills seq 68-70 but takes its previous cum from the signed voucher at seq 3, not 67: the units of seq 4-67, settled in epoch 2, billed again.',
      ['8.5.30 PROOF_INVALID'],
      closeEpoch(w, {
        epoch: 3n,
        closedAtMs: h.e3.record.closedAtMs,
        prevRoot: h.e2.record.root,
        inputs: [
          {
            ...spanInput(3n, w.a, w.h67, w.h70, {
              prevHeadHash: w.h3.head.hash,
              deltaUnits: w.h70.head.cumUnits - w.h3.head.cumUnits,
              deltaAmount: w.h70.head.cumAmount - w.h3.head.cumAmount,
            }),
            prevVoucher: w.h3.voucher,
            prevSignature: w.h3.signature,
          },
        ],
      }).bundle,
    ),
  );

  // A voucher at seq 3 that the device never made, with lower totals: a bigger delta.
  const fake = { ...w.h3.voucher, cumUnits: 1n, cumAmount: 25n };
  const fabricated: BundleEntryInput = {
    ...spanInput(2n, w.a, w.h3, w.h67, {
      prevHeadHash: voucherHash(fake),
      deltaUnits: e2.cumUnits - fake.cumUnits,
      deltaAmount: e2.cumAmount - fake.cumAmount,
    }),
    prevVoucher: encodeVoucher(fake),
  };
  cases.push(
    bundleCase(
      'fabricated-previous-voucher',
      "The voucher before the span is made up (seq 3 with 1 unit instead of 6, so a bigger delta); the device's signature over the real seq 3 does not cover it. A version-1 bundle cannot catch this (see accepted).",
      ['8.5.31 SIG_INVALID'],
      h.epoch2(h.epoch2Inputs({}, fabricated)).bundle,
    ),
  );

  const v66 = last64[62]!;
  cases.push(
    bundleCase(
      'head-not-signed',
      'The entry ends at seq 66, inside a segment: the device signed seq 67, not 66.',
      ['8.5.21 SIG_INVALID'],
      h.epoch2(
        h.epoch2Inputs(
          {},
          {
            ...spanInput(2n, w.a, w.h3, w.h67, {
              toSeq: 66n,
              cumUnits: v66.cumUnits,
              cumAmount: v66.cumAmount,
              deltaUnits: v66.cumUnits - w.h3.head.cumUnits,
              deltaAmount: v66.cumAmount - w.h3.head.cumAmount,
              headHash: voucherHash(v66),
            }),
            headVoucher: v66,
          },
        ),
      ).bundle,
    ),
  );

  const elsewhere = w.channel({ nonce: 5n, network: 'other-net' });
  cases.push(
    bundleCase(
      'channel-of-another-network',
      "A channel the device really signed for, but opened on another network: it cannot be billed in this hub's epoch.",
      ['8.5.16 WRONG_CHANNEL'],
      h.epoch2([
        ...h.epoch2Inputs(),
        spanInput(
          2n,
          elsewhere,
          undefined,
          signedHeadOf(elsewhere.channelId, elsewhere.sign(genesisHead(elsewhere.channelId), 2)),
        ),
      ]).bundle,
    ),
  );

  const f = w.channel({ nonce: 6n });
  const fHead = signedHeadOf(f.channelId, f.sign(genesisHead(f.channelId), 3));
  cases.push(
    bundleCase(
      'previous-voucher-of-another-channel',
      "The voucher before the span is another channel's signed seq 3 (same device, same totals).",
      ['8.5.29 WRONG_CHANNEL'],
      h.epoch2(
        h.epoch2Inputs(
          {},
          {
            ...spanInput(2n, w.a, w.h3, w.h67, { prevHeadHash: fHead.head.hash }),
            prevVoucher: fHead.voucher,
            prevSignature: fHead.signature,
          },
        ),
      ).bundle,
    ),
  );

  cases.push(
    bundleCase(
      'delta-above-signed-difference',
      'One unit more billed than the difference between the two signed heads.',
      ['8.5.32 PROOF_INVALID'],
      h.epoch2(h.epoch2Inputs({ deltaUnits: e2.deltaUnits + 1n, deltaAmount: e2.deltaAmount + 25n })).bundle,
    ),
  );

  const g = w.channel({ nonce: 7n });
  const gSeg = g.sign(genesisHead(g.channelId), 2, fields(genesisHead(g.channelId), 2, 30n));
  cases.push(
    bundleCase(
      'signed-at-the-wrong-price',
      'The device signed vouchers at 30 per unit on a channel priced 25: settling them is refused.',
      ['8.5.33 AMOUNT_PRICE_MISMATCH'],
      h.epoch2([...h.epoch2Inputs(), spanInput(2n, g, undefined, signedHeadOf(g.channelId, gSeg))]).bundle,
    ),
  );

  cases.push(
    bundleCase(
      'total-not-the-sum',
      "The signed record's total is 25 more than its entries' deltas.",
      ['8.5.35 PROOF_INVALID'],
      h.epoch2(h.epoch2Inputs(), { totalDeltaAmount: h.e2.record.totalDeltaAmount + 25n }).bundle,
    ),
  );

  cases.push(
    bundleCase(
      'entry-of-another-epoch',
      'An entry that names epoch 3 in the tree of epoch 2.',
      ['8.5.11 PROOF_INVALID'],
      h.epoch2(h.epoch2Inputs({ epoch: 3n })).bundle,
    ),
  );

  cases.push(
    bundleCase(
      'first-span-not-from-genesis',
      'A span from seq 1 whose previous hash is not the channel id.',
      ['8.5.24 BAD_LINK'],
      closeEpoch(w, {
        epoch: 1n,
        closedAtMs: h.e1.record.closedAtMs,
        prevRoot: ZERO_ROOT,
        inputs: [spanInput(1n, w.a, undefined, w.h3, { prevHeadHash: w.h3.head.hash })],
      }).bundle,
    ),
  );

  // Altered after signing: the JSON around the signed bytes, or the signed bytes themselves.
  cases.push(
    bundleCase(
      'record-altered',
      'The epoch record was changed after the hub signed it.',
      ['8.5.7 SIG_INVALID'],
      alter(h.e2.bundle, (b) => void (b.epoch.record = flipHex(b.epoch.record, 80))),
    ),
  );
  cases.push(
    bundleCase(
      'head-voucher-altered',
      "The head voucher's device time was changed: it no longer hashes to the entry's head.",
      ['8.5.18 BAD_LINK'],
      alter(
        h.e2.bundle,
        (b) =>
          void (b.entries.find((e) => e.prevVoucher)!.headVoucher = flipHex(
            b.entries.find((e) => e.prevVoucher)!.headVoucher,
            63,
          )),
      ),
    ),
  );
  cases.push(
    bundleCase(
      'leaf-count-altered',
      "An entry's proof claims another leaf count than the record's.",
      ['8.5.12 PROOF_INVALID'],
      alter(h.e2.bundle, (b) => void (b.entries[0]!.proof.leafCount += 1)),
    ),
  );
  cases.push(
    bundleCase(
      'previous-signature-missing',
      'A version-2 entry after seq 1 without prevSignature.',
      ['8.5.26 DECODE_FIELD'],
      alter(h.e2.bundle, (b) => void delete b.entries.find((e) => e.prevVoucher)!.prevSignature),
    ),
  );
  cases.push(
    bundleCase(
      'more-entries-than-the-epoch',
      'An entry repeated in the bundle: more entries than the record counts.',
      ['8.5.8 PROOF_INVALID'],
      alter(h.e2.bundle, (b) => void b.entries.push(structuredClone(b.entries[0]!))),
    ),
  );
  cases.push(
    bundleCase(
      'unknown-field',
      'An entry carries a field the format does not define.',
      ['8.5.9 DECODE_FIELD'],
      alter(h.e2.bundle, (b) => void ((b.entries[0] as unknown as Record<string, unknown>).paid = true)),
    ),
  );
  cases.push(
    bundleCase(
      'unknown-format',
      'A format version this verifier does not know.',
      ['8.5.2 DECODE_VERSION'],
      alter(h.e2.bundle, (b) => void ((b as unknown as Record<string, unknown>).format = 'tally-settlement-bundle/9')),
    ),
  );
  return cases;
}

/** Bundles that verify one by one; together they do not [P-8.6]. */
export function negativeSeries(w: World): SeriesCase[] {
  const h = honestEpochs(w);
  const again = closeEpoch(w, {
    epoch: 3n,
    closedAtMs: h.e3.record.closedAtMs,
    prevRoot: h.e2.record.root,
    inputs: [spanInput(3n, w.a, w.h3, w.h70)],
  });
  const rewritten = closeEpoch(w, {
    epoch: 3n,
    closedAtMs: h.e3.record.closedAtMs,
    prevRoot: ZERO_ROOT,
    inputs: [spanInput(3n, w.a, w.h67, w.h70)],
  });
  return [
    {
      name: 'billed-again-next-epoch',
      description:
        'Epoch 3 bills seq 4-70 from the signed seq 3: consistent on its own, but seq 4-67 were billed in epoch 2.',
      reasons: ['8.6.5 SEQ_STALE'],
      reason: '8.6.5 SEQ_STALE',
      bundles: [h.e2.bundle, again.bundle],
    },
    {
      name: 'epoch-missing',
      description: 'Epochs 1 and 3 without epoch 2: seq 4-67 are in no bundle given.',
      reasons: ['8.6.5 SEQ_GAP'],
      reason: '8.6.5 SEQ_GAP',
      bundles: [h.e1.bundle, h.e3.bundle],
    },
    {
      name: 'history-rewritten',
      description: "Epoch 3's record does not name epoch 2's root as its previous root.",
      reasons: ['8.6.4 BAD_LINK'],
      reason: '8.6.4 BAD_LINK',
      bundles: [h.e2.bundle, rewritten.bundle],
    },
  ];
}

/** Valid, and what they show: the honest series, and what version 1 cannot catch. */
export function acceptedBundles(w: World) {
  const h = honestEpochs(w);
  const fake = { ...w.h3.voucher, cumUnits: 1n, cumAmount: 25n };
  const e2 = spanInput(2n, w.a, w.h3, w.h67).entry as SettlementEntry;
  const v1Fabricated = closeEpoch(w, {
    epoch: 2n,
    closedAtMs: T0 + HOUR,
    prevRoot: h.e1.record.root,
    version: 1,
    inputs: h.epoch2Inputs(
      {},
      {
        ...spanInput(2n, w.a, w.h3, w.h67, {
          prevHeadHash: voucherHash(fake),
          deltaUnits: e2.cumUnits - fake.cumUnits,
          deltaAmount: e2.cumAmount - fake.cumAmount,
        }),
        prevVoucher: encodeVoucher(fake),
      },
    ),
  });
  return {
    series: {
      description:
        'Epochs 1, 2 and 3, honest, version 2: each verifies, and together they bill the vector channel seq 1-70 once.',
      bundles: [h.e1.bundle, h.e2.bundle, h.e3.bundle],
    },
    v1FabricatedPreviousVoucher: {
      description:
        'The fabricated-previous-voucher case as a version-1 bundle: it verifies, with deltas hub-attested. This is why version 2 exists.',
      deltas: 'hub-attested',
      bundle: v1Fabricated.bundle,
    },
  };
}
