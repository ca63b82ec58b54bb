// fast-check arbitraries for every protocol value, valid by construction, so property tests can
// encode them and attack the bytes. Keys come from random seeds (the device key must be a valid
// point [P-2.3]); everything else is drawn over its full range.

import fc from 'fast-check';
import {
  keyPairFromSeed,
  REASONS,
  U64_MAX,
  type ChannelRecord,
  type Control,
  type EpochRecord,
  type Head,
  type Receipt,
  type ReasonCode,
  type Segment,
  type SettlementEntry,
  type Status,
  type Voucher,
} from '../../protocol/index.js';

export const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
export const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const network = fc.stringMatching(/^[a-z0-9._-]{1,64}$/);
export const unit = fc.stringMatching(/^[A-Za-z0-9/_.-]{1,16}$/);
export const publicKey = bytes(32).map((seed) => keyPairFromSeed(seed).publicKey);
export const reason = fc.constantFrom(...(Object.keys(REASONS) as ReasonCode[]));
export const channelState = fc.constantFrom('open', 'exhausted', 'closed', 'revoked' as const);

export const channelRecord: fc.Arbitrary<ChannelRecord> = fc
  .record({
    network,
    hubKey: bytes(32),
    deviceKey: publicKey,
    unit,
    pricePerUnit: u64,
    capacity: fc.bigInt({ min: 1n, max: U64_MAX }),
    openedAtMs: fc.bigInt({ min: 0n, max: U64_MAX - 1n }),
    expiresIn: fc.option(fc.bigInt({ min: 1n, max: U64_MAX })),
    nonce: u64,
    // Version 1 (no currency) or version 2 with an ISO code or a CAIP-19 token id [P-3.1].
    terms: fc.option(
      fc.record({
        currency: fc.oneof(
          fc.stringMatching(/^[A-Z]{3}$/),
          fc.stringMatching(/^[a-z0-9]{3,8}:[a-zA-Z0-9]{1,32}\/[a-z0-9]{3,8}:[a-zA-Z0-9]{1,60}$/),
        ),
        exponent: fc.integer({ min: 0, max: 18 }),
      }),
    ),
  })
  .map(({ expiresIn, terms, ...r }) => {
    const room = U64_MAX - r.openedAtMs;
    const expiresAtMs = expiresIn === null ? 0n : r.openedAtMs + 1n + ((expiresIn - 1n) % room);
    return { ...r, ...(terms ?? {}), expiresAtMs };
  });

export const head: fc.Arbitrary<Head> = fc.record({ seq: u64, hash: bytes(32), cumUnits: u64, cumAmount: u64 });

export const voucher: fc.Arbitrary<Voucher> = fc.record({
  channelId: bytes(32),
  seq: fc.bigInt({ min: 1n, max: U64_MAX }),
  cumUnits: u64,
  cumAmount: u64,
  deviceTimeMs: u64,
  prevHash: bytes(32),
});

export const segment: fc.Arbitrary<Segment> = fc
  .record({
    channelId: bytes(32),
    prevHash: bytes(32),
    vouchers: fc.array(fc.record({ cumUnits: u64, cumAmount: u64, deviceTimeMs: u64 }), {
      minLength: 1,
      maxLength: 40,
    }),
    seqDraw: fc.bigInt({ min: 1n, max: U64_MAX }),
    signature: bytes(64),
  })
  .map(({ seqDraw, ...s }) => {
    const maxFirst = U64_MAX - BigInt(s.vouchers.length) + 1n;
    return { ...s, firstSeq: seqDraw > maxFirst ? maxFirst : seqDraw };
  });

export const receipt: fc.Arbitrary<Receipt> = fc.record({
  channelId: bytes(32),
  seq: u64,
  headHash: bytes(32),
  cumUnits: u64,
  cumAmount: u64,
  hubTimeMs: u64,
  signature: bytes(64),
});

export const status: fc.Arbitrary<Status> = fc.record({
  state: fc.constantFrom('online', 'offline', 'exhausted', 'hello' as const),
  channelId: bytes(32),
  ackedSeq: u64,
  outboxDepth: u32,
  deviceTimeMs: u64,
});

export const control: fc.Arbitrary<Control> = fc.oneof(
  fc.record({ kind: fc.constant('grant' as const), record: channelRecord, capacity: u64, state: channelState, head }),
  fc.record({ kind: fc.constant('resync' as const), channelId: bytes(32), head, reason }),
  fc.record({
    kind: fc.constant('capacity' as const),
    channelId: bytes(32),
    capacity: u64,
    cumAmount: u64,
    state: channelState,
  }),
  fc.record({ kind: fc.constant('reject' as const), channelId: bytes(32), seq: u64, reason }),
);

export const entry: fc.Arbitrary<SettlementEntry> = fc
  .record({
    epoch: u64,
    channelId: bytes(32),
    a: fc.bigInt({ min: 1n, max: U64_MAX }),
    b: fc.bigInt({ min: 1n, max: U64_MAX }),
    u1: u64,
    u2: u64,
    m1: u64,
    m2: u64,
    headHash: bytes(32),
    prevHeadHash: bytes(32),
  })
  .map(({ a, b, u1, u2, m1, m2, ...e }) => ({
    ...e,
    fromSeq: a < b ? a : b,
    toSeq: a < b ? b : a,
    deltaUnits: u1 < u2 ? u1 : u2,
    cumUnits: u1 < u2 ? u2 : u1,
    deltaAmount: m1 < m2 ? m1 : m2,
    cumAmount: m1 < m2 ? m2 : m1,
  }));

export const epochRecord: fc.Arbitrary<EpochRecord> = fc.record({
  network,
  hubKey: bytes(32),
  epoch: u64,
  closedAtMs: u64,
  entryCount: u32,
  totalDeltaAmount: u64,
  prevRoot: bytes(32),
  root: bytes(32),
});
