// Tally's golden vectors: `npx tsx scripts/make-vectors.ts` (or `npm run vectors`) writes
// test/vectors/tally-v1.json, the exact bytes of every protocol structure built from fixed seeds.
// test/protocol/golden.test.ts recomputes them with computeVectors() and fails on any drift, so
// regenerate only for a deliberate change of the protocol, and say so in the commit.
// Ed25519 signatures are deterministic (RFC 8032), so signatures are pinned exactly too.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  buildBundle,
  buildSegment,
  channelIdOf,
  encodeChannelRecord,
  encodeControl,
  encodeEntry,
  encodeEpochRecord,
  encodeReceipt,
  encodeSegment,
  encodeStatus,
  encodeVoucher,
  genesisHead,
  keyPairFromSeed,
  makeEntry,
  makeMqttCredential,
  makeReceipt,
  merkleProof,
  merkleRoot,
  nobleBackend,
  signEpoch,
  sortEntries,
  toHex,
  voucherHash,
  type BuiltSegment,
  type ChannelRecord,
  type Control,
  type EpochRecord,
  type Head,
  type Voucher,
  type VoucherFields,
} from '../protocol/index.js';

export const VECTORS_PATH = fileURLToPath(new URL('../test/vectors/tally-v1.json', import.meta.url));

// The reference backend signs: the vectors must not depend on OpenSSL, and the golden test checks
// that the node:crypto backend produces the same bytes.
const backend = nobleBackend;
const HUB_SEED = new Uint8Array(32).fill(0x01);
const DEVICE_SEED = new Uint8Array(32).fill(0x02);
const T0 = 1_700_000_000_000n; // fixed clock: 2023-11-14T22:13:20Z

/** bigint -> decimal string, bytes -> lowercase hex, recursively: JSON has neither. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** Vouchers k+1.. after `prev`, unit steps 1, 2, 3, 1, 2, 3... at `price`. */
function fields(prev: Head, count: number, price: bigint): VoucherFields[] {
  let units = prev.cumUnits;
  return Array.from({ length: count }, (_, j) => {
    units += BigInt((Number(prev.seq) + j) % 3) + 1n;
    return { cumUnits: units, cumAmount: units * price, deviceTimeMs: T0 + 1000n * (prev.seq + BigInt(j) + 1n) };
  });
}

function fullVouchers(channelId: Uint8Array, built: BuiltSegment): Voucher[] {
  return built.segment.vouchers.map((f, j) => ({
    channelId,
    seq: built.segment.firstSeq + BigInt(j),
    ...f,
    prevHash: j === 0 ? built.segment.prevHash : built.hashes[j - 1]!,
  }));
}

/** Every vector, computed from the fixed seeds above. Pure: same code, same output. */
export function computeVectors(): Record<string, unknown> {
  const hub = keyPairFromSeed(HUB_SEED, backend);
  const device = keyPairFromSeed(DEVICE_SEED, backend);
  const record: ChannelRecord = {
    network: 'tally-test',
    hubKey: hub.publicKey,
    deviceKey: device.publicKey,
    unit: 'Wh',
    pricePerUnit: 25n,
    capacity: 1_000_000n,
    openedAtMs: T0,
    expiresAtMs: T0 + 86_400_000n,
    nonce: 1n,
  };
  const recordBytes = encodeChannelRecord(record);
  const channelId = channelIdOf(recordBytes);

  const sign = (prev: Head, count: number) =>
    buildSegment({
      channelId,
      prev,
      vouchers: fields(prev, count, record.pricePerUnit),
      secretKey: device.secretKey,
      backend,
    });
  const seg3 = sign(genesisHead(channelId), 3);
  const seg64 = sign(seg3.head, 64);
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
    const r = { ...record, nonce };
    const id = channelIdOf(r);
    const built = buildSegment({
      channelId: id,
      prev: genesisHead(id),
      vouchers: fields(genesisHead(id), 2, r.pricePerUnit),
      secretKey: device.secretKey,
      backend,
    });
    return { record: r, id, built, entry: makeEntry(2n, id, genesisHead(id), built.head) };
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
  const bundle = buildBundle({
    epochRecord,
    epochSignature,
    entries: [
      {
        entry: entry2,
        channelRecord: recordBytes,
        headVoucher: last64[63]!,
        headSignature: seg64.segment.signature,
        prevVoucher: first3[2]!,
      },
      ...others.map((o) => ({
        entry: o.entry,
        channelRecord: o.record,
        headVoucher: fullVouchers(o.id, o.built)[1]!,
        headSignature: o.built.segment.signature,
      })),
    ],
  });

  return {
    format: 'tally-vectors/1',
    about: 'Exact bytes of Tally protocol v1 (docs/protocol.md) from fixed seeds; regenerate with npm run vectors.',
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
    },
  };
}

/** The JSON text of the vectors, as written to disk. */
export function vectorsJson(): string {
  return `${JSON.stringify(plain(computeVectors()), null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(VECTORS_PATH, vectorsJson());
  console.log(`wrote ${VECTORS_PATH}`);
}
