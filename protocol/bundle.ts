// Settlement bundles [P-8.5]: a JSON document that proves one epoch's settlements (all of them, or
// one customer's) with nothing but itself. Everything binary is lowercase hex of the exact bytes
// that were hashed or signed, so the verifier re-derives every value instead of trusting one.

import { bytesEqual, toHex } from './bytes.js';
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

export const BUNDLE_FORMAT = 'tally-settlement-bundle/1';

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
  proof: BundleProofJson;
}

export interface BundleJson {
  format: typeof BUNDLE_FORMAT;
  epoch: { record: string; signature: string };
  entries: BundleEntryJson[];
}

export interface BundleEntryInput {
  entry: SettlementEntry | Uint8Array;
  channelRecord: ChannelRecord | Uint8Array;
  headVoucher: Voucher | Uint8Array;
  headSignature: Uint8Array;
  /** Required when the entry's fromSeq > 1 [P-8.5]. */
  prevVoucher?: Voucher | Uint8Array;
}

const entryBytes = (e: SettlementEntry | Uint8Array): Uint8Array => (e instanceof Uint8Array ? e : encodeEntry(e));
const channelIdOfEntryBytes = (bytes: Uint8Array): Uint8Array => bytes.subarray(9, 41); // [P-8.2] offset 9

/**
 * Builds a bundle [P-8.5]. `epochEntries` are the bytes of every entry of the epoch, for the proofs;
 * when omitted, `entries` are taken to be the whole epoch. Entries come out in tree order. Throws a
 * TypeError when an entry is not among the epoch's entries or a value does not encode (programmer
 * error); it does not judge the evidence: verifyBundle does.
 */
export function buildBundle(args: {
  epochRecord: EpochRecord | Uint8Array;
  epochSignature: Uint8Array;
  entries: readonly BundleEntryInput[];
  epochEntries?: readonly Uint8Array[];
}): BundleJson {
  const included = args.entries.map((e) => ({ ...e, bytes: entryBytes(e.entry) }));
  const leaves = [...(args.epochEntries ?? included.map((e) => e.bytes))].sort((a, b) =>
    compareChannelIds(channelIdOfEntryBytes(a), channelIdOfEntryBytes(b)),
  );
  const proofs = merkleProofs(leaves);
  const entries = included.map((e) => {
    const index = leaves.findIndex((leaf) => bytesEqual(leaf, e.bytes));
    if (index < 0) throw new TypeError('bundle entry is not among the epoch entries');
    const proof = proofs[index]!;
    const prevVoucher =
      e.prevVoucher instanceof Uint8Array || e.prevVoucher === undefined ? e.prevVoucher : encodeVoucher(e.prevVoucher);
    const json: BundleEntryJson = {
      entry: toHex(e.bytes),
      channelRecord: toHex(
        e.channelRecord instanceof Uint8Array ? e.channelRecord : encodeChannelRecord(e.channelRecord),
      ),
      headVoucher: toHex(e.headVoucher instanceof Uint8Array ? e.headVoucher : encodeVoucher(e.headVoucher)),
      headSignature: toHex(e.headSignature),
      ...(prevVoucher === undefined ? {} : { prevVoucher: toHex(prevVoucher) }),
      proof: { index: proof.index, leafCount: proof.leafCount, siblings: proof.siblings.map(toHex) },
    };
    return json;
  });
  entries.sort((a, b) => a.proof.index - b.proof.index);
  const record = args.epochRecord instanceof Uint8Array ? args.epochRecord : encodeEpochRecord(args.epochRecord);
  return { format: BUNDLE_FORMAT, epoch: { record: toHex(record), signature: toHex(args.epochSignature) }, entries };
}
