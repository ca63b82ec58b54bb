// The fixed world every Tally vector is built from: seeds, a clock, the vector channel and its
// signed chain, and helpers that close an epoch and bundle it the way a hub does. Pure: the same
// code gives the same bytes (Ed25519 signatures are deterministic, RFC 8032).

import {
  buildBundle,
  buildSegment,
  channelIdOf,
  encodeChannelRecord,
  encodeEntry,
  genesisHead,
  keyPairFromSeed,
  makeEntry,
  merkleRoot,
  nobleBackend,
  signEpoch,
  sortEntries,
  toHex,
  type BuiltSegment,
  type BundleEntryInput,
  type BundleJson,
  type BundleVersion,
  type ChannelRecord,
  type EpochRecord,
  type Head,
  type KeyPair,
  type SettlementEntry,
  type Voucher,
  type VoucherFields,
} from '../../protocol/index.js';

// The reference backend signs: the vectors must not depend on OpenSSL, and the golden test checks
// that the node:crypto backend produces the same bytes.
export const backend = nobleBackend;
export const HUB_SEED = new Uint8Array(32).fill(0x01);
export const DEVICE_SEED = new Uint8Array(32).fill(0x02);
/** A second enrolled device, and a key no hub knows (negative segment vectors). */
export const OTHER_DEVICE_SEED = new Uint8Array(32).fill(0x03);
export const STRANGER_SEED = new Uint8Array(32).fill(0x04);
export const T0 = 1_700_000_000_000n; // fixed clock: 2023-11-14T22:13:20Z

/** bigint -> decimal string, bytes -> lowercase hex, recursively: JSON has neither. */
export function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** Vouchers k+1.. after `prev`, unit steps 1, 2, 3, 1, 2, 3... at `price`. A voucher's values
 *  depend only on its seq, so two chains built this way agree wherever they overlap. */
export function fields(prev: Head, count: number, price: bigint): VoucherFields[] {
  let units = prev.cumUnits;
  return Array.from({ length: count }, (_, j) => {
    units += BigInt((Number(prev.seq) + j) % 3) + 1n;
    return { cumUnits: units, cumAmount: units * price, deviceTimeMs: T0 + 1000n * (prev.seq + BigInt(j) + 1n) };
  });
}

export function fullVouchers(channelId: Uint8Array, built: BuiltSegment): Voucher[] {
  return built.segment.vouchers.map((f, j) => ({
    channelId,
    seq: built.segment.firstSeq + BigInt(j),
    ...f,
    prevHash: j === 0 ? built.segment.prevHash : built.hashes[j - 1]!,
  }));
}

/** A head the device signed: the voucher, its place in the chain and the segment signature. */
export interface SignedHead {
  head: Head;
  voucher: Voucher;
  signature: Uint8Array;
}

export function signedHeadOf(channelId: Uint8Array, built: BuiltSegment): SignedHead {
  return { head: built.head, voucher: fullVouchers(channelId, built).at(-1)!, signature: built.segment.signature };
}

export interface VectorChannel {
  record: ChannelRecord;
  recordBytes: Uint8Array;
  channelId: Uint8Array;
  /** The device signs `count` vouchers after `prev` (values by fields(), or as given). */
  sign(prev: Head, count: number, vouchers?: VoucherFields[], secretKey?: Uint8Array): BuiltSegment;
}

export interface World {
  hub: KeyPair;
  device: KeyPair;
  other: KeyPair;
  stranger: KeyPair;
  /** Channel terms of the vector channel; others differ in what their name says. */
  record: ChannelRecord;
  channel(overrides: Partial<ChannelRecord>): VectorChannel;
  /** The vector channel (nonce 1). */
  a: VectorChannel;
  /** Its chain: seq 1-3, 4-67, 68-70, three signed segments. */
  seg3: BuiltSegment;
  seg64: BuiltSegment;
  seg68: BuiltSegment;
  h3: SignedHead;
  h67: SignedHead;
  h70: SignedHead;
}

export function makeWorld(): World {
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
  const channel = (overrides: Partial<ChannelRecord>): VectorChannel => {
    const r = { ...record, ...overrides };
    const recordBytes = encodeChannelRecord(r);
    const channelId = channelIdOf(recordBytes);
    return {
      record: r,
      recordBytes,
      channelId,
      sign: (prev, count, vouchers, secretKey) =>
        buildSegment({
          channelId,
          prev,
          vouchers: vouchers ?? fields(prev, count, r.pricePerUnit),
          secretKey: secretKey ?? device.secretKey,
          backend,
        }),
    };
  };
  const a = channel({});
  const seg3 = a.sign(genesisHead(a.channelId), 3);
  const seg64 = a.sign(seg3.head, 64);
  const seg68 = a.sign(seg64.head, 3);
  return {
    hub,
    device,
    other: keyPairFromSeed(OTHER_DEVICE_SEED, backend),
    stranger: keyPairFromSeed(STRANGER_SEED, backend),
    record,
    channel,
    a,
    seg3,
    seg64,
    seg68,
    h3: signedHeadOf(a.channelId, seg3),
    h67: signedHeadOf(a.channelId, seg64),
    h70: signedHeadOf(a.channelId, seg68),
  };
}

/** The bundle input for a channel's span from `from` (undefined: genesis) to the signed head `to`. */
export function spanInput(
  epoch: bigint,
  ch: VectorChannel,
  from: SignedHead | undefined,
  to: SignedHead,
  patch: Partial<SettlementEntry> = {},
): BundleEntryInput {
  const settled = from?.head ?? genesisHead(ch.channelId);
  return {
    entry: { ...makeEntry(epoch, ch.channelId, settled, to.head), ...patch },
    channelRecord: ch.recordBytes,
    headVoucher: to.voucher,
    headSignature: to.signature,
    ...(from === undefined ? {} : { prevVoucher: from.voucher, prevSignature: from.signature }),
  };
}

export interface ClosedEpoch {
  record: EpochRecord;
  signature: Uint8Array;
  bundle: BundleJson;
}

/**
 * Closes an epoch over `inputs` as the vector hub: entries in tree order, root, total, the signed
 * record; `patch` changes the record before it is signed (a dishonest hub signs what it likes).
 */
export function closeEpoch(
  world: World,
  args: {
    epoch: bigint;
    closedAtMs: bigint;
    prevRoot: Uint8Array;
    inputs: BundleEntryInput[];
    patch?: Partial<EpochRecord>;
    version?: BundleVersion;
  },
): ClosedEpoch {
  const entries = sortEntries(args.inputs.map((i) => i.entry as SettlementEntry));
  const record: EpochRecord = {
    network: world.record.network,
    hubKey: world.hub.publicKey,
    epoch: args.epoch,
    closedAtMs: args.closedAtMs,
    entryCount: entries.length,
    totalDeltaAmount: entries.reduce((sum, e) => sum + e.deltaAmount, 0n),
    prevRoot: args.prevRoot,
    root: merkleRoot(entries.map(encodeEntry)),
    ...args.patch,
  };
  const signature = signEpoch(record, world.hub.secretKey, backend);
  const bundle = buildBundle({
    epochRecord: record,
    epochSignature: signature,
    entries: args.inputs,
    ...(args.version === undefined ? {} : { version: args.version }),
  });
  return { record, signature, bundle };
}
