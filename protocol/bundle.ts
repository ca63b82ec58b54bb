// Settlement bundles [P-8.5]: a JSON document that proves one epoch's settlements (all of them, or
// one customer's) with nothing but itself. Everything binary is lowercase hex of the exact bytes
// that were hashed or signed, so the verifier re-derives every value instead of trusting one.
//
// Versions: a bundle names its format, `tally-settlement-bundle/<n>`. Version 2 adds the device's
// signature over the voucher before each span (`prevSignature`), so a span's start, and with it the
// delta, rests on the device's signatures alone; version 1 lacks it (its deltas are hub-attested)
// and still verifies. Version 3 is version 2 plus an optional `anchor` (where the epoch's root was
// published on a chain, bundle-anchor.ts). A later version adds fields beside these (BUNDLE_FORMATS
// in verify-bundle.ts is the one table of what each version carries).

import type { BundleAnchorJson } from './bundle-anchor.js';
import { toHex } from './bytes.js';
import { encodeChannelRecord, type ChannelRecord } from './channel.js';
import { merkleProofs } from './merkle.js';
import {
  compareChannelIds,
  encodeEntry,
  encodeEpochRecord,
  type EpochRecord,
  type SettlementEntry,
} from './settlement.js';
import { encodeVoucher, type Voucher } from './voucher.js';

export type BundleVersion = 1 | 2 | 3;
/** The version buildBundle writes unless told otherwise. */
export const BUNDLE_VERSION: BundleVersion = 2;
export const bundleFormat = (version: BundleVersion) => `tally-settlement-bundle/${version}` as const;
export type BundleFormat = ReturnType<typeof bundleFormat>;
/** The current format. */
export const BUNDLE_FORMAT: BundleFormat = bundleFormat(BUNDLE_VERSION);

export interface BundleProofJson {
  index: number;
  leafCount: number;
  siblings: string[];
}

export interface BundleEntryJson {
  /** The 153-byte settlement entry [P-8.2]. */
  entry: string;
  /** The channel opening record [P-3.1]; its hash is the channel id. */
  channelRecord: string;
  /** The voucher at toSeq [P-4.1]; its hash is the entry's headHash. */
  headVoucher: string;
  /** The device's segment signature over headHash [P-4.4]. */
  headSignature: string;
  /** The voucher at fromSeq - 1, present exactly when fromSeq > 1: it gives the previous cum. */
  prevVoucher?: string;
  /** Version 2: the device's segment signature over prevHeadHash, present exactly when fromSeq > 1. */
  prevSignature?: string;
  proof: BundleProofJson;
}

export interface BundleJson {
  format: BundleFormat;
  epoch: { record: string; signature: string };
  entries: BundleEntryJson[];
  /** Version 3 only, optional: where the epoch root is anchored [P-8.8]. */
  anchor?: BundleAnchorJson;
}

export interface BundleEntryInput {
  entry: SettlementEntry | Uint8Array;
  channelRecord: ChannelRecord | Uint8Array;
  headVoucher: Voucher | Uint8Array;
  headSignature: Uint8Array;
  /** Required when the entry's fromSeq > 1 [P-8.5]. */
  prevVoucher?: Voucher | Uint8Array;
  /** The device's signature over the previous (settled) head; required in version 2 when fromSeq > 1. */
  prevSignature?: Uint8Array;
}

const entryBytes = (e: SettlementEntry | Uint8Array): Uint8Array => (e instanceof Uint8Array ? e : encodeEntry(e));
const channelIdOfEntryBytes = (bytes: Uint8Array): Uint8Array => bytes.subarray(9, 41); // [P-8.2] offset 9
const voucherBytes = (v: Voucher | Uint8Array): Uint8Array => (v instanceof Uint8Array ? v : encodeVoucher(v));

/**
 * Builds a bundle [P-8.5], version 2 unless `version` says otherwise (3 when given an anchor). `epochEntries` are the bytes of every
 * entry of the epoch, for the proofs; when omitted, `entries` are taken to be the whole epoch.
 * Entries come out in tree order. Throws a TypeError when an entry is not among the epoch's entries
 * or a value does not encode (programmer error); it does not judge the evidence: verifyBundle does.
 */
export function buildBundle(args: {
  epochRecord: EpochRecord | Uint8Array;
  epochSignature: Uint8Array;
  entries: readonly BundleEntryInput[];
  epochEntries?: readonly Uint8Array[];
  version?: BundleVersion;
  /** Makes the bundle version 3 (unless told otherwise) and carries the anchor [P-8.8]. */
  anchor?: BundleAnchorJson;
}): BundleJson {
  const version = args.version ?? (args.anchor ? 3 : BUNDLE_VERSION);
  if (version !== 1 && version !== 2 && version !== 3) throw new TypeError(`unknown bundle version ${String(version)}`);
  if (args.anchor !== undefined && version < 3) throw new TypeError(`bundle version ${version} carries no anchor`);
  const included = args.entries.map((e) => ({ ...e, bytes: entryBytes(e.entry) }));
  const leaves = [...(args.epochEntries ?? included.map((e) => e.bytes))].sort((a, b) =>
    compareChannelIds(channelIdOfEntryBytes(a), channelIdOfEntryBytes(b)),
  );
  const proofs = merkleProofs(leaves);
  // By the bytes, in one pass: a search per entry made a whole-epoch bundle quadratic (10,000
  // channels took 30 s, a blocked hub for as long as it was being exported).
  const indexOf = new Map<string, number>();
  // The first of equal leaves, as a search would find it (a dishonest epoch may repeat one).
  leaves.forEach((leaf, i) => {
    const key = toHex(leaf);
    if (!indexOf.has(key)) indexOf.set(key, i);
  });
  const entries = included.map((e) => {
    const index = indexOf.get(toHex(e.bytes));
    if (index === undefined) throw new TypeError('bundle entry is not among the epoch entries');
    const proof = proofs[index]!;
    const json: BundleEntryJson = {
      entry: toHex(e.bytes),
      channelRecord: toHex(
        e.channelRecord instanceof Uint8Array ? e.channelRecord : encodeChannelRecord(e.channelRecord),
      ),
      headVoucher: toHex(voucherBytes(e.headVoucher)),
      headSignature: toHex(e.headSignature),
      ...(e.prevVoucher === undefined ? {} : { prevVoucher: toHex(voucherBytes(e.prevVoucher)) }),
      // Version 1 has no such field: a signature given for it is left out, not smuggled in.
      ...(version < 2 || e.prevSignature === undefined ? {} : { prevSignature: toHex(e.prevSignature) }),
      proof: { index: proof.index, leafCount: proof.leafCount, siblings: proof.siblings.map(toHex) },
    };
    return json;
  });
  entries.sort((a, b) => a.proof.index - b.proof.index);
  const record = args.epochRecord instanceof Uint8Array ? args.epochRecord : encodeEpochRecord(args.epochRecord);
  return {
    format: bundleFormat(version),
    epoch: { record: toHex(record), signature: toHex(args.epochSignature) },
    entries,
    ...(args.anchor === undefined ? {} : { anchor: { ...args.anchor } }),
  };
}
