// Nothing a device did not sign changes state. Every rejection class the uplink can reach is sent
// with an all-zero signature (refused by the strict pre-checks at once) and with another key's
// signature (passes the pre-checks, fails the equation: with workers, its verdict comes later),
// through the real ingest pipeline and SQLite store, with signatures checked on the main thread
// and by a worker pool whose verdicts the test releases. After each input: every channel, head,
// balance, buffer and device flag is as it was, the device was told nothing (an exact duplicate
// gets the receipt it already had), and only rejection counters rose, with the reason of the
// order decode -> authorize -> sequence -> link -> signature -> voucher rules -> expiry [P-4.5].
// The attack that found this: one zero-signed segment claiming 90,000,000 units marked a live
// channel exhausted and stopped the device's billing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildSegment,
  encodeSegment,
  generateKeyPair,
  toHex,
  topics,
  U64_MAX,
  type Head,
  type Segment,
  type VoucherFields,
} from '../../protocol/index.js';
import { bareCore, GatedPool, type BareCore } from '../hub/helpers/bare-core.js';
import { BareDevice, commitTurn, rejectionCounts } from '../hub/helpers/bare-device.js';
import { tempDir } from '../hub/helpers/hub.js';
import { recorder } from './helpers/record.js';

const rec = recorder('unsigned-input');
const PRICE = 3n;
const CAPACITY = 30n; // room for 10 units: a channel that exhausts is easy to reach
const stranger = generateKeyPair();

/** Another key's signature over the same head as `s`. */
function segmentSignedBy(s: Segment, secretKey: Uint8Array): Uint8Array {
  const prev = { seq: s.firstSeq - 1n, hash: s.prevHash, cumUnits: 0n, cumAmount: 0n };
  return buildSegment({ channelId: s.channelId, prev, vouchers: s.vouchers, secretKey }).segment.signature;
}

const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

describe.each([
  ['main thread', false],
  ['worker pool', true],
])('unsigned input changes nothing (signatures on the %s)', (mode, withPool) => {
  let tmp: ReturnType<typeof tempDir>;
  let hub: BareCore;
  let pool: GatedPool | undefined;
  let clock: number;
  let a: BareDevice; // open channel, 4 units committed
  let firstOfA: Segment;
  let closed: BareDevice; // channel closed by the operator
  let expiring: BareDevice; // channel past its expiry by the hub clock

  beforeEach(async () => {
    tmp = tempDir();
    clock = Date.now();
    pool = withPool ? new GatedPool() : undefined;
    hub = await bareCore(tmp.dir, { now: () => clock }, pool);
    a = await BareDevice.enrol(hub, { price: PRICE, capacity: CAPACITY });
    closed = await BareDevice.enrol(hub, { price: PRICE, capacity: CAPACITY });
    expiring = await BareDevice.enrol(hub, { price: PRICE, capacity: CAPACITY, expiresAtMs: BigInt(clock + 60_000) });
    firstOfA = a.build(4).segment;
    a.send(firstOfA);
    for (const d of [closed, expiring]) d.send(d.build(4));
    await settle();
    await hub.core.closeChannel(toHex(closed.channelId));
    clock += 120_000; // past the expiry of `expiring`
    await settle();
    expect((await a.durable()).seq).toBe(4n);
  });
  afterEach(async () => {
    await hub.close();
    tmp.cleanup();
  });

  /** Releases every held verdict (and what it triggers) and lets the group commit run. */
  async function settle(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      await pool?.release();
      await commitTurn();
      if (!pool || pool.waiting === 0) break;
    }
    await hub.core.flush();
  }

  /** Everything a refusal must not change: live and stored channel state, devices, money. */
  async function state(): Promise<string> {
    await hub.core.flush();
    const { core } = hub;
    const live = [...core.fleet.channels.values()].map((ch) => ({
      id: ch.idHex,
      state: ch.state,
      capacity: ch.capacity,
      head: ch.head,
      durable: ch.durable,
      pending: ch.pending.length,
      waiting: ch.waiting.length,
      held: ch.held.length,
      equivocated: ch.equivocated,
      stateDirty: ch.stateDirty,
      exhaustedNotice: ch.exhaustedNotice,
    }));
    const stored = [];
    for (const ch of core.fleet.channels.values()) stored.push(await core.ledger.getChannel(ch.id));
    const devices = [...core.fleet.devices.values()].map((d) => ({
      hex: d.hex,
      connected: d.connected,
      revoked: d.revoked,
    }));
    const { rejectedEvents: _e, rejectedVouchers: _v, ...money } = await core.stats();
    return json({
      live,
      stored,
      devices,
      money,
      evidence: (await core.ledger.listEquivocations()).length,
      waiting: core.fleet.waitingTotal,
    });
  }

  /** `vouchers` after `prev` on `d`'s channel, signed by `key` (or zero-signed when key is null). */
  function segment(d: BareDevice, prev: Head, vouchers: VoucherFields[], key: Uint8Array | null): Uint8Array {
    const built = buildSegment({ channelId: d.channelId, prev, vouchers, secretKey: key ?? stranger.secretKey });
    const s: Segment = key === null ? { ...built.segment, signature: new Uint8Array(64) } : built.segment;
    return encodeSegment(s);
  }

  const units = (from: Head, ...cum: bigint[]): VoucherFields[] =>
    cum.map((u, i) => ({ cumUnits: u, cumAmount: u * PRICE, deviceTimeMs: BigInt(i) + from.seq }));

  it('every rejection class, zero-signed and signed by another key', async () => {
    const head = a.head; // seq 4, 4 units, amount 12
    const genesisOfA = { seq: 0n, hash: a.channelId, cumUnits: 0n, cumAmount: 0n };
    const farHead = { ...head, seq: 20n };
    const cases: { name: string; expect: string; bytes: (k: Uint8Array | null) => Uint8Array; topicOf?: string }[] = [
      {
        name: 'decode: a trailing byte',
        expect: 'DECODE_TRAILING',
        bytes: (k) => new Uint8Array([...segment(a, head, units(head, 5n), k), 0]),
      },
      {
        name: 'authorize: an unknown device key on the topic',
        expect: 'UNKNOWN_DEVICE',
        bytes: (k) => segment(a, head, units(head, 5n), k),
        topicOf: toHex(generateKeyPair().publicKey),
      },
      {
        name: 'authorize: an unknown channel',
        expect: 'UNKNOWN_CHANNEL',
        bytes: (k) => {
          const s = buildSegment({
            channelId: new Uint8Array(32).fill(5),
            prev: { ...head, hash: new Uint8Array(32).fill(5) },
            vouchers: units(head, 5n),
            secretKey: stranger.secretKey,
          }).segment;
          return encodeSegment(k === null ? { ...s, signature: new Uint8Array(64) } : s);
        },
      },
      {
        name: "authorize: another device's channel on this device's topic",
        expect: 'TOPIC_MISMATCH',
        bytes: (k) => segment(closed, closed.head, units(closed.head, 5n), k),
      },
      {
        name: 'authorize: a closed channel (no REJECT to the device)',
        expect: 'CHANNEL_CLOSED',
        bytes: (k) => segment(closed, closed.head, units(closed.head, 5n), k),
        topicOf: closed.hex,
      },
      {
        name: 'sequence: a copy of a stored segment with its signature replaced (duplicate)',
        expect: 'DUPLICATE',
        bytes: (k) =>
          encodeSegment({
            ...firstOfA,
            signature: k === null ? new Uint8Array(64) : segmentSignedBy(firstOfA, k),
          }),
      },
      {
        name: 'sequence: other vouchers for stored seqs (conflict)',
        expect: 'SIG_INVALID',
        bytes: (k) => segment(a, { ...genesisOfA }, units(genesisOfA, 2n, 3n), k),
      },
      {
        name: 'sequence: beyond a gap (kept out of the reorder buffer)',
        expect: 'SIG_INVALID',
        bytes: (k) => segment(a, farHead, units(farHead, 30n), k),
      },
      {
        name: 'link: prevHash is not the head (no RESYNC)',
        expect: 'BAD_LINK',
        bytes: (k) => segment(a, { ...head, hash: new Uint8Array(32).fill(1) }, units(head, 5n), k),
      },
      {
        name: 'signature: the next segment',
        expect: 'SIG_INVALID',
        bytes: (k) => segment(a, head, units(head, 5n), k),
      },
      {
        name: 'voucher rule: units not increasing',
        expect: 'SIG_INVALID',
        bytes: (k) => segment(a, head, units(head, 4n), k),
      },
      {
        name: 'voucher rule: amount decreased',
        expect: 'SIG_INVALID',
        bytes: (k) => segment(a, head, [{ cumUnits: 5n, cumAmount: 1n, deviceTimeMs: 0n }], k),
      },
      {
        name: 'voucher rule: amount is not units x price',
        expect: 'SIG_INVALID',
        bytes: (k) => segment(a, head, [{ cumUnits: 5n, cumAmount: 16n, deviceTimeMs: 0n }], k),
      },
      {
        name: 'voucher rule: units x price overflows u64',
        expect: 'SIG_INVALID',
        bytes: (k) => segment(a, head, [{ cumUnits: U64_MAX, cumAmount: U64_MAX, deviceTimeMs: 0n }], k),
      },
      {
        name: 'voucher rule: 90,000,000 units, over capacity (the channel stays open)',
        expect: 'SIG_INVALID',
        bytes: (k) => segment(a, head, units(head, 90_000_000n), k),
      },
      {
        name: 'accepted but for the signature: fills the channel to capacity (not exhausted)',
        expect: 'SIG_INVALID',
        bytes: (k) => segment(a, head, units(head, 10n), k),
      },
      {
        name: 'expiry: a channel past its expiry',
        expect: 'SIG_INVALID',
        bytes: (k) => segment(expiring, expiring.head, units(expiring.head, 5n), k),
        topicOf: expiring.hex,
      },
    ];

    const before = await state();
    const lastReceipt = hub.core.fleet.channels.get(toHex(a.channelId))!.lastReceipt!;
    const observed: string[] = [];
    let inputs = 0;
    for (const c of cases) {
      for (const [variant, key] of [
        ['zero signature', null],
        ['another key', stranger.secretKey],
      ] as const) {
        const counts = await rejectionCounts(hub);
        const controls = hub.controls.length;
        const receipts = hub.receipts.length;
        hub.core.pipeline.onMessage(topics.segment(c.topicOf ?? a.hex), c.bytes(key));
        inputs++;
        await settle();
        const after = await rejectionCounts(hub);
        const rose = Object.keys(after).filter((r) => after[r] !== counts[r]);
        expect(rose, `${c.name} (${variant})`).toEqual([c.expect]);
        expect(await state(), `${c.name} (${variant})`).toBe(before);
        // Told nothing, except (with workers) one RESYNC carrying the committed head, below.
        const told = hub.controls.slice(controls).filter((m) => m.control.kind !== 'resync');
        expect(told, `${c.name} (${variant})`).toEqual([]);
        for (const r of hub.receipts.slice(receipts)) expect(toHex(r.bytes)).toBe(toHex(lastReceipt));
      }
      observed.push(`${c.name}: ${c.expect}`);
    }
    // A forgery chained on the live head and then found invalid rolls back; the device may get a
    // RESYNC carrying its own committed head, at most once per verified head.
    const resyncs = hub.controls.flatMap((m) => (m.control.kind === 'resync' ? [m.control] : []));
    expect(resyncs.length).toBeLessThanOrEqual(1);
    for (const r of resyncs) {
      expect(r.head.seq).toBe((await a.durable()).seq);
      expect(toHex(r.head.hash)).toBe(toHex((await a.durable()).hash));
    }
    if (!withPool) expect(resyncs).toEqual([]);

    // The channel still takes the device's own next segment, to the unit.
    a.send(a.build(6));
    await settle();
    expect((await a.durable()).cumUnits).toBe(10n);
    expect(hub.core.fleet.channels.get(toHex(a.channelId))!.state).toBe('exhausted');

    rec.record({
      case: `every rejection class with a zero or foreign signature (${mode})`,
      expected:
        'counted with the reason of the order decode, authorize, sequence, link, signature, rules, expiry; no channel, head, balance, buffer or device flag changes; nothing told to the device',
      observed: `${observed.join('; ')}; state unchanged after each of ${inputs} inputs; RESYNCs ${resyncs.length} (at the committed head); the device's own 6 units then accepted and exhausted the channel`,
      figures: { inputs, rejected: inputs },
    });
  });

  it('a flood of unsigned segments beyond a gap leaves the reorder buffer to the device', async () => {
    const max = hub.core.config.reorderMaxPerChannel;
    const far = { ...a.head, seq: 40n };
    for (let i = 0; i < max + 10; i++)
      hub.core.pipeline.onMessage(
        topics.segment(a.hex),
        segment(
          a,
          { ...far, seq: far.seq + BigInt(i) },
          units(far, 50n + BigInt(i)),
          i % 2 ? null : stranger.secretKey,
        ),
      );
    await settle();
    const ch = hub.core.fleet.channels.get(toHex(a.channelId))!;
    expect(ch.waiting).toHaveLength(0);
    expect((await rejectionCounts(hub)).REORDER_OVERFLOW).toBeUndefined();
    // The device's own out-of-order segments still wait and are taken in order.
    const s1 = a.build(2);
    const s2 = a.build(2);
    a.send(s2);
    a.send(s1);
    await settle();
    expect((await a.durable()).seq).toBe(8n);
    rec.record({
      case: `reorder buffer flood with unsigned segments (${mode})`,
      expected: 'each refused SIG_INVALID before it takes a place; no REORDER_OVERFLOW; the device still reorders',
      observed: `${max + 10} unsigned gap segments refused, buffer 0, then the device's own reordered pair committed to seq 8`,
      figures: { inputs: max + 10, rejected: max + 10 },
    });
  });
});
