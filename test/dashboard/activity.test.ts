// Activity, without sockets: rates from committed heads, last seen, and the attention signals.
import { describe, expect, it } from 'vitest';
import { Activity, SERIES_SECONDS } from '../../hub/model/activity.js';
import { Registry, type LiveChannel } from '../../hub/model/registry.js';
import { HubMetrics } from '../../hub/base/metrics.js';
import { fleetTotals } from '../../hub/model/fleet-totals.js';
import type { HubStore, RejectionRow } from '../../hub/store/types.js';

const hex = (b: number) => b.toString(16).padStart(2, '0').repeat(32);
const key = (b: number) => new Uint8Array(32).fill(b);

async function setup() {
  let nowMs = 1_000_000;
  const rejections: (RejectionRow & { id: bigint })[] = [];
  const store = {
    listChannels: async () => [],
    recentRejections: async ({ limit }: { limit: number }) => [...rejections].reverse().slice(0, limit),
    rejectionCounts: async () => [{ reason: 'SEQ_GAP', events: BigInt(rejections.length), vouchers: 0n }],
  } as unknown as HubStore;
  const registry = new Registry();
  const channels: LiveChannel[] = [];
  for (const b of [1, 2]) {
    registry.addDevice({ deviceKey: key(b), enrolledAtMs: 0n, revokedAtMs: null, credentialFloorMs: 0n });
    const head = { seq: 0n, hash: new Uint8Array(32), cumUnits: 0n, cumAmount: 0n };
    // Only the fields Activity reads; the rest of a live channel does not matter here.
    const ch = {
      idHex: hex(b + 100),
      deviceHex: hex(b),
      durable: head,
      head,
      settled: head,
      state: 'open',
      equivocated: false,
      waiting: [],
    } as unknown as LiveChannel;
    registry.addChannel(ch);
    channels.push(ch);
  }
  const metrics = new HubMetrics();
  const activity = await Activity.create(registry, store, metrics, () => nowMs);
  return {
    activity,
    registry,
    channels,
    metrics,
    rejections,
    advance: (ms: number) => (nowMs += ms),
    now: () => nowMs,
  };
}

// What the commit does to a channel, and what it tells the registry (a sample reads only what changed).
const move = (registry: Registry, ch: LiveChannel, vouchers: bigint, units: bigint) => {
  ch.durable = { ...ch.durable, seq: ch.durable.seq + vouchers, cumUnits: ch.durable.cumUnits + units };
  registry.noteChannel(ch);
};

describe('Activity', () => {
  it('turns committed head moves into units/s and vouchers/s', async () => {
    const t = await setup();
    move(t.registry, t.channels[0]!, 10n, 40n);
    move(t.registry, t.channels[1]!, 5n, 5n);
    t.advance(2000);
    const s = await t.activity.sample();
    expect(s.rate.vouchersPerSec).toBe(7.5);
    expect(s.rate.unitsPerSec).toBe(22.5);
    t.advance(1000);
    expect((await t.activity.sample()).rate.unitsPerSec).toBe(0);
    expect(t.activity.series.map((p) => p.vouchersPerSec)).toEqual([7.5, 0]);
  });

  it('keeps a bounded series', async () => {
    const t = await setup();
    for (let i = 0; i < SERIES_SECONDS + 25; i++) {
      t.advance(1000);
      await t.activity.sample();
    }
    expect(t.activity.series.length).toBe(SERIES_SECONDS);
  });

  it('sees a device when it is connected or its head moves', async () => {
    const t = await setup();
    expect(t.activity.seenAtMs(hex(1))).toBeNull();
    move(t.registry, t.channels[0]!, 1n, 1n);
    t.advance(1000);
    await t.activity.sample();
    expect(t.activity.seenAtMs(hex(1))).toBe(t.now());
    t.registry.devices.get(hex(2))!.connected = true;
    t.registry.noteDevice({ hex: hex(2) });
    t.advance(1000);
    const s = await t.activity.sample();
    expect(t.activity.seenAtMs(hex(2))).toBe(t.now());
    expect(t.activity.seenAtMs(hex(1))).toBe(t.now() - 1000);
    expect([s.online, s.offline]).toEqual([1, 1]);
  });

  it('flags equivocation, waiting segments, exhaustion and recent gaps, and lets old gaps go', async () => {
    const t = await setup();
    expect(t.activity.needsAttention(hex(1))).toEqual([]);
    (t.channels[0] as { equivocated: boolean }).equivocated = true;
    t.registry.noteChannel(t.channels[0]!);
    expect(t.activity.needsAttention(hex(1))).toEqual(['equivocation']);
    (t.channels[1] as { state: string }).state = 'exhausted';
    expect(t.activity.needsAttention(hex(2))).toEqual(['channel exhausted']);
    (t.channels[1] as { state: string }).state = 'open';

    t.rejections.push({
      id: 1n,
      atMs: 0n,
      stage: 'sequence',
      reason: 'HUB_REORDER_EXPIRED',
      deviceKey: key(2),
      channelId: null,
      seq: 5n,
      vouchers: 1,
      detail: null,
    });
    t.rejections.push({
      id: 2n,
      atMs: 0n,
      stage: 'sequence',
      reason: 'DUPLICATE',
      deviceKey: key(1),
      channelId: null,
      seq: 5n,
      vouchers: 1,
      detail: null,
    });
    t.advance(1000);
    const s = await t.activity.sample();
    expect(t.activity.needsAttention(hex(2))).toEqual(['recent gap or resync']);
    expect(t.activity.needsAttention(hex(1))).toEqual(['equivocation']); // a duplicate is harmless
    expect(s.signals.attentionDevices).toBe(2);
    expect(s.signals.equivocatedChannels).toBe(1);
    expect(s.signals.gapRejections).toBe('2');
    t.advance(11 * 60_000);
    await t.activity.sample();
    expect(t.activity.needsAttention(hex(2))).toEqual([]);
  });

  it('counts RESYNC messages from the metrics', async () => {
    const t = await setup();
    t.metrics.controlsSent.inc({ kind: 'resync' }, 3);
    t.metrics.controlsSent.inc({ kind: 'grant' }, 9);
    await t.activity.sample();
    await new Promise((r) => setImmediate(r));
    expect((await t.activity.sample()).signals.resyncs).toBe(3);
  });

  it('reads only what changed: a sample never walks the fleet', async () => {
    const t = await setup();
    // After the first sample, walking every channel or device would throw.
    const walk = () => {
      throw new Error('a sample walked the whole fleet');
    };
    Object.assign(t.registry.channels, { values: walk, entries: walk, forEach: walk, [Symbol.iterator]: walk });
    Object.assign(t.registry.devices, { values: walk, entries: walk, forEach: walk, [Symbol.iterator]: walk });
    move(t.registry, t.channels[1]!, 3n, 6n);
    t.advance(1000);
    const s = await t.activity.sample();
    expect(s.rate).toMatchObject({ vouchersPerSec: 3, unitsPerSec: 6 });
    expect([s.devices, s.online, s.offline]).toEqual([2, 0, 2]);
  });

  it('keeps counts right as devices come, go and are revoked, and channels are replaced', async () => {
    const t = await setup();
    const d1 = t.registry.devices.get(hex(1))!;
    const d2 = t.registry.devices.get(hex(2))!;
    d1.connected = true;
    d2.connected = true;
    t.registry.noteDevice(d1);
    t.registry.noteDevice(d2);
    t.advance(1000);
    let s = await t.activity.sample();
    expect([s.online, s.offline, s.revoked]).toEqual([2, 0, 0]);
    const seenConnected = t.now();

    // Device 1 goes; device 2 is revoked (counted as revoked only, even while still connected).
    d1.connected = false;
    d2.revoked = true;
    t.registry.noteDevice(d1);
    t.registry.noteDevice(d2);
    t.advance(1000);
    s = await t.activity.sample();
    expect([s.online, s.offline, s.revoked]).toEqual([0, 1, 1]);
    expect(t.activity.seenAtMs(hex(1))).toBe(seenConnected);
    expect(t.activity.seenAtMs(hex(2))).toBe(t.now());

    // A channel replaced by what the store holds (a reload after a failed commit, a partition
    // gained) with fewer units: the units rate is never negative, and the totals follow.
    move(t.registry, t.channels[0]!, 4n, 8n);
    t.advance(1000);
    expect((await t.activity.sample()).rate.unitsPerSec).toBe(8);
    t.registry.removeChannel(t.channels[0]!.idHex);
    t.advance(1000);
    expect((await t.activity.sample()).rate.unitsPerSec).toBe(0);
    move(t.registry, t.channels[1]!, 1n, 2n);
    t.advance(1000);
    expect((await t.activity.sample()).rate.unitsPerSec).toBe(2);
  });

  it('keeps the fleet totals of stats() as a full count over the registry gives them', async () => {
    const t = await setup();
    const [a, b] = t.channels as [LiveChannel, LiveChannel];
    const check = async () => {
      t.advance(1000);
      await t.activity.sample();
      expect(t.activity.totals()).toEqual(fleetTotals(t.registry));
    };
    await check();
    move(t.registry, a, 7n, 9n);
    a.durable = { ...a.durable, cumAmount: 90n };
    await check();
    // Settled, exhausted, a device connected and one revoked.
    a.settled = a.durable;
    b.state = 'exhausted';
    t.registry.noteChannel(a);
    t.registry.noteChannel(b);
    const d1 = t.registry.devices.get(hex(1))!;
    d1.connected = true;
    t.registry.noteDevice(d1);
    const d2 = t.registry.devices.get(hex(2))!;
    d2.revoked = true;
    t.registry.noteDevice(d2);
    await check();
    expect(t.activity.totals()).toMatchObject({
      devicesConnected: 1,
      devicesRevoked: 1,
      channelsByState: { open: 1, exhausted: 1, closed: 0, revoked: 0 },
      acceptedVouchers: '7',
      acceptedUnits: '9',
      settledAmount: '90',
    });
    // A third channel comes and one goes.
    const c = { ...a, idHex: hex(103), durable: { ...a.durable, seq: 3n, cumUnits: 3n, cumAmount: 3n } };
    t.registry.addChannel(c);
    t.registry.removeChannel(a.idHex);
    await check();
    expect(t.activity.totals()).toMatchObject({ channels: 2, acceptedVouchers: '3' });
  });
});
