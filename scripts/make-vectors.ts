// Tally's golden vectors: `npx tsx scripts/make-vectors.ts` (or `npm run vectors`) writes
// test/vectors/tally-v1.json, the exact bytes of every protocol structure built from fixed seeds,
// and test/vectors/tally-v1-negative.json, invalid bundles and segments with the exact reason a
// conforming verifier or hub gives (scripts/vectors/). test/protocol/golden.test.ts and
// test/protocol/negative-vectors.test.ts recompute them and fail on any drift, so regenerate only
// for a deliberate change of the protocol, and say so in the commit.
// Ed25519 signatures are deterministic (RFC 8032), so signatures are pinned exactly too.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  buildBundle,
  encodeControl,
  encodeEntry,
  encodeEpochRecord,
  encodeReceipt,
  encodeSegment,
  encodeStatus,
  encodeVoucher,
  formatMoney,
  genesisHead,
  makeEntry,
  makeMqttCredential,
  makeReceipt,
  merkleProof,
  merkleRoot,
  signEpoch,
  sortEntries,
  voucherHash,
  type BundleEntryInput,
  type Control,
  type EpochRecord,
} from '../protocol/index.js';
import { negativeVectors } from './vectors/negative.js';
import {
  backend,
  closeEpoch,
  DEVICE_SEED,
  fullVouchers,
  HUB_SEED,
  makeWorld,
  plain,
  signedHeadOf,
  spanInput,
  T0,
  type World,
} from './vectors/world.js';

export const VECTORS_PATH = fileURLToPath(new URL('../test/vectors/tally-v1.json', import.meta.url));
export const NEGATIVE_VECTORS_PATH = fileURLToPath(new URL('../test/vectors/tally-v1-negative.json', import.meta.url));

/**
 * A version-2 channel [P-3.1]: EUR at exponent 6 (one minor unit is EUR 0.000001), EUR 0.30 per kWh
 * as 300 per Wh; its record, GRANT, first segment, and epoch 1 settling it, bundled. The same hub
 * and device as the version-1 vectors.
 */
function channelV2Vectors(world: World) {
  const { hub } = world;
  const ch = world.channel({ currency: 'EUR', exponent: 6, pricePerUnit: 300n, nonce: 20n });
  const seg = ch.sign(genesisHead(ch.channelId), 3);
  const epoch1 = closeEpoch(world, {
    epoch: 1n,
    closedAtMs: T0 + 3_600_000n,
    prevRoot: new Uint8Array(32),
    inputs: [spanInput(1n, ch, undefined, signedHeadOf(ch.channelId, seg))],
  });
  const grant: Control = {
    kind: 'grant',
    record: ch.record,
    capacity: ch.record.capacity,
    state: 'open',
    head: seg.head,
  };
  return {
    channel: { record: ch.record, recordBytes: ch.recordBytes, channelId: ch.channelId },
    // How the amounts read, exactly (protocol/money.ts): the price, and the head's total.
    display: {
      pricePerUnit: formatMoney(ch.record.pricePerUnit, ch.record),
      headAmount: formatMoney(seg.head.cumAmount, ch.record),
    },
    grant: encodeControl(grant, hub.secretKey, backend),
    segment: { head: seg.head, signature: seg.segment.signature, wire: encodeSegment(seg.segment) },
    settlement: { epochRecord: { record: epoch1.record, signature: epoch1.signature }, bundle: epoch1.bundle },
  };
}

/** Every vector, computed from the fixed seeds above. Pure: same code, same output. */
export function computeVectors(): Record<string, unknown> {
  const world = makeWorld();
  const { hub, device, record, seg3, seg64 } = world;
  const { recordBytes, channelId } = world.a;
  const first3 = fullVouchers(channelId, seg3);
  const last64 = fullVouchers(channelId, seg64);

  const receipt = makeReceipt(
    {
      channelId,
      seq: seg64.head.seq,
      headHash: seg64.head.hash,
      cumUnits: seg64.head.cumUnits,
      cumAmount: seg64.head.cumAmount,
      hubTimeMs: T0 + 70_000n,
    },
    hub.secretKey,
    backend,
  );

  const controls: Record<string, Control> = {
    grant: { kind: 'grant', record, capacity: 1_000_000n, state: 'open', head: seg3.head },
    resync: { kind: 'resync', channelId, head: seg3.head, reason: 'BAD_LINK' },
    capacity: { kind: 'capacity', channelId, capacity: 2_000_000n, cumAmount: seg64.head.cumAmount, state: 'open' },
    reject: { kind: 'reject', channelId, seq: seg64.head.seq, reason: 'OVER_CAPACITY' },
  };
  const status = {
    state: 'online' as const,
    channelId,
    ackedSeq: seg64.head.seq,
    outboxDepth: 12,
    deviceTimeMs: T0 + 71_000n,
  };
  const credential = makeMqttCredential({
    hubKey: hub.publicKey,
    deviceSecretKey: device.secretKey,
    devicePublicKey: device.publicKey,
    issuedAtMs: T0,
    backend,
  });

  // Epoch 1 settles this channel's first segment; epoch 2 settles the 64 after it, with two more
  // channels (nonces 2 and 3) so the tree has an odd level.
  const entry1 = makeEntry(1n, channelId, genesisHead(channelId), seg3.head);
  const others = [2n, 3n].map((nonce) => {
    const ch = world.channel({ nonce });
    const built = ch.sign(genesisHead(ch.channelId), 2);
    return {
      record: ch.record,
      id: ch.channelId,
      built,
      entry: makeEntry(2n, ch.channelId, genesisHead(ch.channelId), built.head),
    };
  });
  const entry2 = makeEntry(2n, channelId, seg3.head, seg64.head);
  const epochEntries = sortEntries([entry2, ...others.map((o) => o.entry)]);
  const leaves = epochEntries.map(encodeEntry);
  const root = merkleRoot(leaves);
  const index = epochEntries.indexOf(entry2);
  const epochRecord: EpochRecord = {
    network: record.network,
    hubKey: hub.publicKey,
    epoch: 2n,
    closedAtMs: T0 + 3_600_000n,
    entryCount: leaves.length,
    totalDeltaAmount: epochEntries.reduce((sum, e) => sum + e.deltaAmount, 0n),
    prevRoot: merkleRoot([encodeEntry(entry1)]),
    root,
  };
  const epochSignature = signEpoch(epochRecord, hub.secretKey, backend);
  const inputs: BundleEntryInput[] = [
    {
      entry: entry2,
      channelRecord: recordBytes,
      headVoucher: last64[63]!,
      headSignature: seg64.segment.signature,
      prevVoucher: first3[2]!,
      prevSignature: seg3.segment.signature,
    },
    ...others.map((o) => ({
      entry: o.entry,
      channelRecord: o.record,
      headVoucher: fullVouchers(o.id, o.built)[1]!,
      headSignature: o.built.segment.signature,
    })),
  ];
  // Version 2 is what a hub exports; version 1 (the same evidence without the device's signature over
  // the voucher before a span) still verifies, its deltas hub-attested [P-8.5, P-8.7].
  const bundle = buildBundle({ epochRecord, epochSignature, entries: inputs });
  const bundleV1 = buildBundle({ epochRecord, epochSignature, entries: inputs, version: 1 });

  return {
    format: 'tally-vectors/1',
    about:
      'Exact bytes of Tally protocol v1 (docs/protocol.md) from fixed seeds, with version-1 and version-2 channel records; regenerate with npm run vectors.',
    keys: {
      hub: { seed: HUB_SEED, publicKey: hub.publicKey },
      device: { seed: DEVICE_SEED, publicKey: device.publicKey },
    },
    channel: { record, recordBytes, channelId },
    vouchers: first3.map((v) => ({ voucher: v, bytes: encodeVoucher(v), hash: voucherHash(v) })),
    segment3: {
      firstSeq: seg3.segment.firstSeq,
      head: seg3.head,
      signature: seg3.segment.signature,
      wire: encodeSegment(seg3.segment),
    },
    segment64: {
      firstSeq: seg64.segment.firstSeq,
      head: seg64.head,
      signature: seg64.segment.signature,
      lastVoucher: encodeVoucher(last64[63]!),
      wire: encodeSegment(seg64.segment),
    },
    receipt: { receipt, wire: encodeReceipt(receipt) },
    control: Object.fromEntries(
      Object.entries(controls).map(([name, c]) => [name, encodeControl(c, hub.secretKey, backend)]),
    ),
    status: { status, wire: encodeStatus(status) },
    mqttCredential: { hubKey: hub.publicKey, issuedAtMs: T0, ...credential },
    settlement: {
      epoch1Entry: { entry: entry1, bytes: encodeEntry(entry1) },
      epoch2Entries: epochEntries.map((e) => ({ entry: e, bytes: encodeEntry(e) })),
      merkleRoot: root,
      proof: merkleProof(leaves, index),
      epochRecord: { record: epochRecord, bytes: encodeEpochRecord(epochRecord), signature: epochSignature },
      bundle,
      bundleV1,
    },
    channelV2: channelV2Vectors(world),
  };
}

/** The JSON text of the vectors, as written to disk. */
export function vectorsJson(): string {
  return `${JSON.stringify(plain(computeVectors()), null, 2)}\n`;
}

/** The JSON text of the negative vectors, as written to disk. */
export function negativeVectorsJson(): string {
  return `${JSON.stringify(plain(negativeVectors()), null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(VECTORS_PATH, vectorsJson());
  console.log(`wrote ${VECTORS_PATH}`);
  writeFileSync(NEGATIVE_VECTORS_PATH, negativeVectorsJson());
  console.log(`wrote ${NEGATIVE_VECTORS_PATH}`);
}
