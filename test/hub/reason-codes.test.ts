// Clause 9's reason-code table is exactly the set the code emits [P-9], both ways:
// - every code it lists is produced here by running the code that emits it (protocol/'s decoders
//   and verifiers on the vectors and on bad keys, the broker's access policy, and a hub fed the
//   situations of clause 5), so a code the spec lists but nothing emits fails;
// - every code those runs produce is listed (or is one of the hub's own, documented in
//   docs/hub.md), and every code-like string in protocol/ and hub/ sources is one of the two
//   tables, so a code the code emits but the spec does not list fails too.

import { HUB_LOG_CODES } from '../../hub/base/log-codes.js';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeControl,
  decodeSegment,
  generateKeyPair,
  genesisHead,
  hexToBytes,
  makeMqttCredential,
  REASONS,
  topics,
  toHex,
  validatePublicKey,
  verifyBundle,
  verifyBundleSeries,
  verifySegment,
  buildSegment,
  encodeSegment,
} from '../../protocol/index.js';
import { API_ERRORS } from '../../hub/base/api-errors.js';
import { authenticate } from '../../hub/broker/access.js';
import { ANCHOR_ERRORS, ANCHOR_VERDICTS } from '../../hub/anchor/codes.js';
import { HUB_REASONS } from '../../hub/base/reasons.js';
import { NEGATIVE_VECTORS_PATH } from '../../scripts/make-vectors.js';
import { bareCore } from './helpers/bare-core.js';
import { BareDevice, commitTurn } from './helpers/bare-device.js';
import { tempDir } from './helpers/hub.js';

// The vectors file is untyped JSON read field by field below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const vectors: Json = JSON.parse(readFileSync(NEGATIVE_VECTORS_PATH, 'utf8'));
const spec = readFileSync('docs/protocol.md', 'utf8');
const clause9 = spec.slice(spec.indexOf('## 9. Reason codes'));
const listed = new Set([...clause9.matchAll(/^\| \d+ \| ([A-Z0-9_]+) \|/gm)].map((m) => m[1]!));

/** Every code a run produced, with one way it was produced (for the failure message). */
const produced = new Map<string, string>();
const saw = (code: string | undefined, how: string) => {
  if (code !== undefined && !produced.has(code)) produced.set(code, how);
};

/** protocol/: decoders, segment verification, bundle verification, key validation. */
function runProtocol(): void {
  const ctx = vectors.segments.context;
  const channel = {
    channelId: hexToBytes(ctx.channels[0].channelId),
    deviceKey: hexToBytes(ctx.channels[0].deviceKey),
    pricePerUnit: 25n,
    capacity: 1_000_000n,
  };
  const head = { ...ctx.head, seq: BigInt(ctx.head.seq), hash: hexToBytes(ctx.head.hash) };
  head.cumUnits = BigInt(head.cumUnits);
  head.cumAmount = BigInt(head.cumAmount);
  for (const c of vectors.segments.cases as Json[]) {
    const d = decodeSegment(hexToBytes(c.wire));
    if (!d.ok) saw(d.code, `decodeSegment(${c.name})`);
    else {
      const v = verifySegment(d.value, head, channel);
      if (!v.ok) saw(v.code, `verifySegment(${c.name})`);
      // The same segment one seq too early or too late, or for another channel: what a verifier
      // says when asked about a segment that does not start at head + 1 [P-4.5].
      for (const [shift, what] of [
        [1n, 'early'],
        [-1n, 'late'],
      ] as const) {
        const moved = verifySegment(d.value, { ...head, seq: head.seq + shift }, channel);
        if (!moved.ok) saw(moved.code, `verifySegment(${c.name}, ${what})`);
      }
      const other = verifySegment(d.value, head, { ...channel, channelId: new Uint8Array(32) });
      if (!other.ok) saw(other.code, `verifySegment(${c.name}, other channel)`);
    }
  }
  for (const c of vectors.bundles as Json[]) {
    const v = verifyBundle(c.bundle);
    if (!v.ok) for (const r of v.reasons) saw(r.code, `verifyBundle(${c.name})`);
  }
  for (const c of vectors.series as Json[]) {
    const v = verifyBundleSeries(c.bundles);
    if (!v.ok) for (const r of v.reasons) saw(r.code, `verifyBundleSeries(${c.name})`);
  }
  // A voucher whose amount goes down (it breaks units x price too: AMOUNT_DECREASED comes first [P-4.3]).
  const key = generateKeyPair();
  const id = new Uint8Array(32).fill(7);
  const down = buildSegment({
    channelId: id,
    prev: { ...genesisHead(id), cumUnits: 5n, cumAmount: 50n },
    vouchers: [{ cumUnits: 6n, cumAmount: 49n, deviceTimeMs: 1n }],
    secretKey: key.secretKey,
  });
  const v = verifySegment(
    down.segment,
    { ...genesisHead(id), cumUnits: 5n, cumAmount: 50n },
    { channelId: id, deviceKey: key.publicKey, pricePerUnit: 10n, capacity: 1000n },
  );
  saw(v.ok ? undefined : v.code, 'verifySegment(amount down)');
  // Enrolment [P-2.3]: a key of the wrong length, not on the curve, non-canonical, of small order.
  const badKeys = [
    new Uint8Array(31),
    hexToBytes('02' + '00'.repeat(31)),
    hexToBytes('ed' + 'ff'.repeat(30) + '7f'),
    hexToBytes('01' + '00'.repeat(31)),
  ];
  for (const k of badKeys) {
    const r = validatePublicKey(k);
    saw(r.ok ? undefined : r.code, `validatePublicKey(${toHex(k).slice(0, 8)}...)`);
  }
}

/** The broker's access policy: a credential outside the window [P-6.4]. */
function runBroker(): void {
  const hub = generateKeyPair();
  const device = generateKeyPair();
  const hex = toHex(device.publicKey);
  const { password } = makeMqttCredential({
    hubKey: hub.publicKey,
    deviceSecretKey: device.secretKey,
    devicePublicKey: device.publicKey,
    issuedAtMs: 1_000n,
  });
  const policy = {
    hubKey: hub.publicKey,
    brokerSecret: 'x',
    credentialWindowMs: 60_000,
    deviceStatus: () => ({ revoked: false, credentialFloorMs: 0n }),
    credentialUsed: () => {},
  };
  const late = authenticate(policy, `tally-${hex}`, hex, Buffer.from(password), 1_000 + 60_001);
  saw(late.ok ? undefined : late.reason, 'authenticate(late credential)');
}

/** A hub fed the situations of clause 5: what it counts, and what it sends in REJECT and RESYNC. */
async function runHub(dir: string): Promise<void> {
  let now = 1_700_000_000_000;
  const hub = await bareCore(join(dir, 'hub'), { now: () => now, reorderWindowMs: 1 });
  try {
    const sent: string[] = [];
    const key = hub.core.identity.keyPair.publicKey;
    hub.core.attach({
      seesConnections: true,
      downlink: {
        publishReceipt: () => {},
        publishControl: (_d, bytes) => {
          const c = decodeControl(bytes, key);
          if (c.ok && (c.value.kind === 'reject' || c.value.kind === 'resync')) sent.push(c.value.reason);
        },
      },
    });
    const d = await BareDevice.enrol(hub);
    const first = d.build(2);
    d.send(first);
    await commitTurn();
    d.send(first); // DUPLICATE
    d.send(d.build(2, 1n, { prev: genesisHead(d.channelId), timeShiftMs: 7n, advance: false })); // EQUIVOCATION
    const next = d.build(1);
    d.send(next, toHex(generateKeyPair().publicKey)); // UNKNOWN_DEVICE
    const other = await BareDevice.enrol(hub);
    d.send(next, other.hex); // TOPIC_MISMATCH
    const stray = buildSegment({
      channelId: new Uint8Array(32).fill(9),
      prev: genesisHead(new Uint8Array(32).fill(9)),
      vouchers: [{ cumUnits: 1n, cumAmount: 3n, deviceTimeMs: 1n }],
      secretKey: d.key.secretKey,
    });
    d.send(encodeSegment(stray.segment)); // UNKNOWN_CHANNEL
    const closed = await BareDevice.enrol(hub);
    await hub.core.closeChannel(toHex(closed.channelId));
    closed.send(closed.build(1)); // CHANNEL_CLOSED
    const expiring = await BareDevice.enrol(hub, { expiresAtMs: BigInt(now + 1_000) });
    now += 2_000;
    expiring.send(expiring.build(1)); // CHANNEL_EXPIRED
    const small = await BareDevice.enrol(hub, { capacity: 10n });
    small.send(small.build(5)); // OVER_CAPACITY
    const gappy = await BareDevice.enrol(hub);
    gappy.build(1); // never sent: every later segment waits for it
    for (let i = 0; i < 65; i++) gappy.send(gappy.build(1)); // REORDER_OVERFLOW
    const late = await BareDevice.enrol(hub);
    late.build(1);
    late.send(late.build(1));
    await new Promise((r) => setTimeout(r, 5));
    hub.core.pipeline.sweep(); // HUB_REORDER_EXPIRED, RESYNC SEQ_GAP
    hub.core.pipeline.onMessage(topics.segment(d.hex), new Uint8Array(0)); // DECODE_EMPTY
    for (let k = 0; k < 3; k++) await commitTurn();
    await hub.core.flush();
    for (const c of await hub.core.ledger.rejectionCounts()) saw(c.reason, 'hub: counted');
    for (const r of sent) saw(r, 'hub: sent in REJECT or RESYNC');
  } finally {
    await hub.close();
  }
}

describe('reason codes: the spec lists exactly what the code emits [P-9]', () => {
  const tmp = tempDir();
  beforeAll(async () => {
    runProtocol();
    runBroker();
    await runHub(tmp.dir);
  });
  afterAll(() => tmp.cleanup());

  it('every code clause 9 lists was produced', async () => {
    const missing = [...listed].filter((c) => !produced.has(c));
    expect(missing, 'listed in clause 9, emitted by nothing that ran').toEqual([]);
  });

  it('every code produced is listed in clause 9, or is one of the hub own (docs/hub.md)', async () => {
    const unlisted = [...produced.keys()].filter((c) => !listed.has(c) && !Object.hasOwn(HUB_REASONS, c));
    expect(unlisted, 'emitted, but in neither table').toEqual([]);
    expect([...listed].sort()).toEqual(Object.keys(REASONS).sort());
  });

  it('every code-like string in protocol/ and hub/ sources is a listed code or a documented one', async () => {
    // Strings that look like codes but name something else: an error class's own code, SQLite's
    // error prefix, a column title.
    const notReasons = new Set([
      'HUB_CONFIG_INVALID',
      'STORE_CONFLICT',
      'LEASE_LOST',
      'CLUSTER_PARTITIONS_MISMATCH',
      'SQLITE_CONSTRAINT',
      'AT_MS',
    ]);
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => {
        const p = join(dir, f);
        return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
      });
    const strays: string[] = [];
    for (const file of [...files('protocol'), ...files('hub')]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g)) {
        const code = m[1]!;
        const known = file.startsWith('protocol')
          ? listed.has(code)
          : listed.has(code) ||
            Object.hasOwn(HUB_REASONS, code) ||
            Object.hasOwn(API_ERRORS, code) ||
            // Anchoring has its own table, documented in docs/settlement.md.
            Object.hasOwn(ANCHOR_VERDICTS, code) ||
            Object.hasOwn(ANCHOR_ERRORS, code) ||
            // Log codes: their own table, docs/hub.md "Logs" (test/hub/log-codes.test.ts).
            Object.hasOwn(HUB_LOG_CODES, code) ||
            notReasons.has(code);
        if (!known) strays.push(`${file}: ${code}`);
      }
    }
    expect(strays).toEqual([]);
  });
});
