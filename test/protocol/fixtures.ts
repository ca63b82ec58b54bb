// Shared fixtures for the protocol tests: fixed keys, a channel, voucher chains and a settled epoch.
// Everything is derived from fixed seeds so failures reproduce exactly.

import {
  buildBundle,
  buildSegment,
  channelIdOf,
  encodeChannelRecord,
  encodeEntry,
  encodeEpochRecord,
  encodeVoucher,
  genesisHead,
  keyPairFromSeed,
  makeEntry,
  merkleRoot,
  signEpoch,
  sortEntries,
  type BuiltSegment,
  type BundleEntryInput,
  type BundleJson,
  type BundleVersion,
  type ChannelRecord,
  type EpochRecord,
  type Head,
  type KeyPair,
  type SettlementEntry,
  type SegmentChannel,
  type Voucher,
  type VoucherFields,
} from '../../protocol/index.js';

export const seed = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);
export const hub: KeyPair = keyPairFromSeed(seed(0x01));
export const device: KeyPair = keyPairFromSeed(seed(0x02));
export const otherDevice: KeyPair = keyPairFromSeed(seed(0x03));

export interface ChannelFixture {
  record: ChannelRecord;
  recordBytes: Uint8Array;
  channelId: Uint8Array;
  ctx: SegmentChannel;
  device: KeyPair;
}

export function makeChannel(overrides: Partial<ChannelRecord> = {}, owner: KeyPair = device): ChannelFixture {
  const record: ChannelRecord = {
    network: 'test-net',
    hubKey: hub.publicKey,
    deviceKey: owner.publicKey,
    unit: 'Wh',
    pricePerUnit: 7n,
    capacity: 1_000_000_000n,
    openedAtMs: 1_700_000_000_000n,
    expiresAtMs: 0n,
    nonce: 1n,
    ...overrides,
  };
  const recordBytes = encodeChannelRecord(record);
  const channelId = channelIdOf(recordBytes);
  return {
    record,
    recordBytes,
    channelId,
    ctx: { channelId, deviceKey: owner.publicKey, pricePerUnit: record.pricePerUnit, capacity: record.capacity },
    device: owner,
  };
}

/** `count` vouchers after `prev`, each adding `step` units at the channel's price. */
export function nextVouchers(prev: Head, count: number, price: bigint, step = 1n): VoucherFields[] {
  return Array.from({ length: count }, (_, j) => {
    const cumUnits = prev.cumUnits + step * BigInt(j + 1);
    return { cumUnits, cumAmount: cumUnits * price, deviceTimeMs: 1_700_000_000_000n + prev.seq + BigInt(j) };
  });
}

export function chainSegment(ch: ChannelFixture, prev: Head, count: number, step = 1n): BuiltSegment {
  return buildSegment({
    channelId: ch.channelId,
    prev,
    vouchers: nextVouchers(prev, count, ch.record.pricePerUnit, step),
    secretKey: ch.device.secretKey,
  });
}

/** The full voucher at the head of a built segment. */
export function headVoucher(ch: ChannelFixture, built: BuiltSegment): Voucher {
  const last = built.segment.vouchers[built.segment.vouchers.length - 1]!;
  const prevHash = built.hashes.length > 1 ? built.hashes[built.hashes.length - 2]! : built.segment.prevHash;
  return { channelId: ch.channelId, seq: built.head.seq, ...last, prevHash };
}

export interface EpochFixture {
  bundle: BundleJson;
  record: EpochRecord;
  channels: ChannelFixture[];
  inputs: BundleEntryInput[];
}

/**
 * A bundle signed by the fixture hub over `inputs` (their entries form the whole epoch), with the
 * record's totals computed from them unless `patch` overrides a field. Lets tests make a hub that
 * signs wrong entries, to check that the evidence still catches them.
 */
export function signBundle(
  inputs: BundleEntryInput[],
  patch: Partial<EpochRecord> = {},
  version: BundleVersion = 2,
): { bundle: BundleJson; record: EpochRecord } {
  const entries = inputs.map((i) => i.entry as SettlementEntry);
  const leaves = sortEntries(entries).map(encodeEntry);
  const record: EpochRecord = {
    network: 'test-net',
    hubKey: hub.publicKey,
    epoch: 5n,
    closedAtMs: 1_700_000_100_000n,
    entryCount: inputs.length,
    totalDeltaAmount: entries.reduce((s, e) => s + e.deltaAmount, 0n),
    prevRoot: new Uint8Array(32).fill(0xab),
    root: merkleRoot(leaves),
    ...patch,
  };
  const bundle = buildBundle({
    epochRecord: encodeEpochRecord(record),
    epochSignature: signEpoch(record, hub.secretKey),
    entries: inputs,
    version,
  });
  return { bundle, record };
}

/**
 * An epoch over `n` channels (nonces 1..n). Channel k was settled up to seq k in an earlier epoch
 * when `settledBefore` is true, so its span starts after seq 1 and carries a prevVoucher and the
 * device's signature over it (bundle version 2).
 */
export function settledEpoch(n: number, settledBefore = false): EpochFixture {
  const channels: ChannelFixture[] = [];
  const inputs: BundleEntryInput[] = [];
  for (let k = 1; k <= n; k++) {
    const ch = makeChannel({ nonce: BigInt(k) });
    channels.push(ch);
    let settled = genesisHead(ch.channelId);
    let prevVoucher: Voucher | undefined;
    let prevSignature: Uint8Array | undefined;
    if (settledBefore) {
      const earlier = chainSegment(ch, settled, k);
      prevVoucher = headVoucher(ch, earlier);
      prevSignature = earlier.segment.signature;
      settled = earlier.head;
    }
    const built = chainSegment(ch, settled, 2 + (k % 3), BigInt(k));
    inputs.push({
      entry: makeEntry(5n, ch.channelId, settled, built.head),
      channelRecord: ch.recordBytes,
      headVoucher: headVoucher(ch, built),
      headSignature: built.segment.signature,
      ...(prevVoucher === undefined ? {} : { prevVoucher: encodeVoucher(prevVoucher), prevSignature: prevSignature! }),
    });
  }
  return { ...signBundle(inputs), channels, inputs };
}
