// What the operator dashboard watches, sampled once a second from the registry the ingest pipeline
// already keeps: fleet rates (units/s, vouchers/s) over the last minutes, each device's last-seen
// time, and the signals that need attention (resyncs, gaps, equivocations). A sample reads only
// the channels and devices the registry says changed since the last one (Registry.watchChanges)
// and keeps running totals, so it costs the fleet's activity, not its size: a
// pass over every channel took 3-5 ms per 10,000 each second (bench/dashboard.ts).
// Rates are floats: they are for charts, like the Prometheus metrics. The ledger stays bigint.

import { decodeEntry, toHex, type ChannelState } from '../../protocol/index.js';
import type { HubMetrics } from '../base/metrics.js';
import type { HubLedger } from '../store/types.js';
import { emptyByState, type FleetTotals } from './fleet-totals.js';
import type { ChangeWatcher, FleetView, LiveChannel } from './registry.js';

/** Seconds of fleet rates kept for the live chart. */
export const SERIES_SECONDS = 600;

/** Reason codes that mean a chain had a hole or a device was asked to re-send. */
export const GAP_REASONS = new Set([
  'SEQ_GAP',
  'HUB_REORDER_EXPIRED',
  'REORDER_OVERFLOW',
  'BAD_LINK',
  'HUB_AFTER_INVALID',
  'HUB_COMMIT_FAILED',
]);

/** A device with a gap-class rejection or an equivocation this recently needs attention. */
const ATTENTION_MS = 10 * 60_000;

export interface RatePoint {
  atMs: number;
  vouchersPerSec: number;
  unitsPerSec: number;
}

export interface Signals {
  /** RESYNC control messages sent since the hub started. */
  resyncs: number;
  /** Segments refused for a gap, a broken link or a full reorder buffer (kept forever). */
  gapRejections: string;
  /** Segments waiting in reorder buffers now. */
  waitingSegments: number;
  equivocatedChannels: number;
  exhaustedChannels: number;
  /** Devices that currently need a look (see needsAttention). */
  attentionDevices: number;
}

export interface ActivitySnapshot {
  atMs: number;
  devices: number;
  online: number;
  offline: number;
  revoked: number;
  rate: RatePoint;
  signals: Signals;
}

export class Activity {
  readonly series: RatePoint[] = [];
  /** Device hex -> ms when it was last connected or its head last moved (while connected, see
   *  `connected`). */
  private readonly lastSeen = new Map<string, number>();
  /** Device hex -> ms of its last gap-class rejection or equivocation. */
  private readonly lastTrouble = new Map<string, number>();
  /** Channel hex -> what the last sample saw of it; and their sums. */
  private readonly seen = new Map<string, SeenChannel>();
  private readonly sums = { vouchers: 0n, units: 0n, amount: 0n, settled: 0n, byState: emptyByState() };
  /** Channels equivocated or exhausted: few, checked again at every sample. */
  private readonly flagged = new Set<string>();
  /** Devices connected at the last sample (seen then), and those of them not revoked. */
  private readonly connected = new Set<string>();
  private readonly online = new Set<string>();
  private readonly revoked = new Set<string>();
  /** Devices that disconnected since the last sample. */
  private readonly leaving: string[] = [];
  private unitsAtLastSample = 0n;
  private lastRejectionId = 0n;
  private lastSampleMs: number | undefined;
  private resyncs = 0;
  private current!: ActivitySnapshot;

  /** Reads what the store already holds (last writes, rejections so far), then takes a sample. */
  static async create(
    registry: FleetView,
    store: HubLedger,
    metrics: HubMetrics,
    now: () => number = Date.now,
  ): Promise<Activity> {
    const activity = new Activity(registry, store, metrics, now);
    // After a restart, a channel's last write is the best guess of when its device was last seen.
    for (const row of await store.listChannels()) {
      const hex = Buffer.from(row.deviceKey).toString('hex');
      if (row.head.seq > 0n && row.updatedAtMs > BigInt(activity.lastSeen.get(hex) ?? 0))
        activity.lastSeen.set(hex, Number(row.updatedAtMs));
    }
    // The first sample reads everything the hub holds now, later ones what changed. What it finds
    // is the starting point, not news: heads already committed are no rate.
    for (const ch of registry.channels.values()) activity.changes.channels.add(ch.idHex);
    for (const d of registry.devices.values()) activity.changes.devices.add(d.hex);
    // Rejections already stored are history, not news.
    activity.lastRejectionId = (await store.recentRejections({ limit: 1 }))[0]?.id ?? 0n;
    await activity.sample();
    return activity;
  }

  private readonly changes: ChangeWatcher;

  private constructor(
    private readonly registry: FleetView,
    private readonly store: HubLedger,
    private readonly metrics: HubMetrics,
    private readonly now: () => number = Date.now,
  ) {
    this.changes = registry.watchChanges();
  }

  /** Stops following the registry's changes. */
  close(): void {
    this.changes.stop();
  }

  get snapshot(): ActivitySnapshot {
    return this.current;
  }

  /** The fleet totals of stats() as of the last sample, kept from the changes, not counted again. */
  totals(): FleetTotals {
    return {
      devices: this.registry.devices.size,
      devicesConnected: this.connected.size,
      devicesRevoked: this.revoked.size,
      channels: this.seen.size,
      channelsByState: { ...this.sums.byState },
      acceptedVouchers: this.sums.vouchers.toString(),
      acceptedUnits: this.sums.units.toString(),
      acceptedAmount: this.sums.amount.toString(),
      settledAmount: this.sums.settled.toString(),
    };
  }

  seenAtMs(deviceHex: string): number | null {
    if (this.connected.has(deviceHex) && this.lastSampleMs !== undefined) return this.lastSampleMs;
    return this.lastSeen.get(deviceHex) ?? null;
  }

  /** Why a device needs a look, or an empty list. */
  needsAttention(deviceHex: string): string[] {
    const why: string[] = [];
    const trouble = this.lastTrouble.get(deviceHex);
    if (trouble !== undefined && this.now() - trouble < ATTENTION_MS) why.push('recent gap or resync');
    const ids = this.registry.devices.get(deviceHex)?.channels ?? [];
    for (const id of ids) {
      const ch = this.registry.channels.get(id);
      if (!ch) continue;
      if (ch.equivocated) why.push('equivocation');
      if (ch.waiting.length > 0) why.push('segments waiting for a gap');
      if (ch.state === 'exhausted') why.push('channel exhausted');
    }
    return [...new Set(why)];
  }

  /** Called once a second (by the HTTP server while the dashboard can be watched). */
  async sample(): Promise<ActivitySnapshot> {
    const nowMs = this.now();
    const changes = this.changes.take();
    const vouchers = this.foldChannels(changes.channels, nowMs);
    this.foldDevices(changes.devices);
    let equivocated = 0;
    let exhausted = 0;
    /** Devices that need attention (the same rules as needsAttention, without its lists). */
    const attention = new Set<string>();
    for (const id of this.flagged) {
      const ch = this.registry.channels.get(id);
      if (!ch || !isFlagged(ch)) {
        this.flagged.delete(id);
        continue;
      }
      if (ch.equivocated) equivocated++;
      if (ch.state === 'exhausted') exhausted++;
      attention.add(ch.deviceHex);
    }
    for (const ch of this.registry.waitingChannels) attention.add(ch.deviceHex);
    await this.readRejections(nowMs);
    void this.readResyncs();

    const dtSec = this.lastSampleMs === undefined ? 1 : Math.max(0.001, (nowMs - this.lastSampleMs) / 1000);
    const first = this.lastSampleMs === undefined;
    // Connected devices are seen at every sample (seenAtMs); one that went away was last seen at
    // the sample before this one, when it was still connected.
    const lastConnected = this.lastSampleMs ?? nowMs;
    for (const hex of this.leaving) this.lastSeen.set(hex, Math.max(this.lastSeen.get(hex) ?? 0, lastConnected));
    this.leaving.length = 0;
    this.lastSampleMs = nowMs;
    // A failed commit reloads a channel and may lower the total: never report a negative rate.
    const total = this.sums.units;
    const units = first || this.unitsAtLastSample > total ? 0n : total - this.unitsAtLastSample;
    this.unitsAtLastSample = total;
    // Two decimals are plenty for a chart and keep the 10-minute series small on the wire.
    const perSec = (n: bigint) => (first ? 0 : Math.round((Number(n) / dtSec) * 100) / 100);
    const rate: RatePoint = { atMs: nowMs, vouchersPerSec: perSec(vouchers), unitsPerSec: perSec(units) };
    if (!first) {
      this.series.push(rate);
      if (this.series.length > SERIES_SECONDS) this.series.splice(0, this.series.length - SERIES_SECONDS);
    }
    let gapRejections = 0n;
    for (const c of await this.store.rejectionCounts()) if (GAP_REASONS.has(c.reason)) gapRejections += c.events;
    for (const [hex, atMs] of this.lastTrouble) {
      if (nowMs - atMs < ATTENTION_MS) attention.add(hex);
      else this.lastTrouble.delete(hex);
    }
    const devices = this.registry.devices.size;
    this.current = {
      atMs: nowMs,
      devices,
      online: this.online.size,
      offline: devices - this.online.size - this.revoked.size,
      revoked: this.revoked.size,
      rate,
      signals: {
        resyncs: this.resyncs,
        gapRejections: gapRejections.toString(),
        waitingSegments: this.registry.waitingTotal,
        equivocatedChannels: equivocated,
        exhaustedChannels: exhausted,
        attentionDevices: attention.size,
      },
    };
    return this.current;
  }

  /** Folds the channels changed since the last sample into the sums; returns the vouchers they
   *  committed meanwhile. A channel the sample had not seen yet adds no vouchers: its head is
   *  where it started, not news. */
  private foldChannels(changed: Set<string>, nowMs: number): bigint {
    let vouchers = 0n;
    const sums = this.sums;
    for (const id of changed) {
      const ch = this.registry.channels.get(id);
      const before = this.seen.get(id);
      if (before) {
        sums.vouchers -= before.seq;
        sums.units -= before.units;
        sums.amount -= before.amount;
        sums.settled -= before.settled;
        sums.byState[before.state]--;
      }
      if (!ch) {
        this.seen.delete(id);
        this.flagged.delete(id);
        continue;
      }
      const now: SeenChannel = {
        seq: ch.durable.seq,
        units: ch.durable.cumUnits,
        amount: ch.durable.cumAmount,
        settled: ch.settled.cumAmount,
        state: ch.state,
      };
      if (before && now.seq > before.seq) {
        vouchers += now.seq - before.seq;
        this.lastSeen.set(ch.deviceHex, nowMs);
      }
      this.seen.set(id, now);
      sums.vouchers += now.seq;
      sums.units += now.units;
      sums.amount += now.amount;
      sums.settled += now.settled;
      sums.byState[now.state]++;
      if (isFlagged(ch)) this.flagged.add(id);
    }
    return vouchers;
  }

  private foldDevices(changed: Set<string>): void {
    for (const hex of changed) {
      const d = this.registry.devices.get(hex);
      if (d?.connected) this.connected.add(hex);
      else if (this.connected.delete(hex)) this.leaving.push(hex);
      // A revoked device is counted as revoked only, even in the moment before its disconnect.
      if (d?.revoked) this.revoked.add(hex);
      else this.revoked.delete(hex);
      if (d?.connected && !d.revoked) this.online.add(hex);
      else this.online.delete(hex);
    }
  }

  /** New rejections since the last sample: gap-class ones mark their device for attention. */
  private async readRejections(nowMs: number): Promise<void> {
    const fresh = (await this.store.recentRejections({ limit: 500 })).filter((r) => r.id > this.lastRejectionId);
    for (const r of fresh) {
      if (r.id > this.lastRejectionId) this.lastRejectionId = r.id;
      if (r.deviceKey && (GAP_REASONS.has(r.reason) || r.reason === 'EQUIVOCATION')) {
        this.lastTrouble.set(Buffer.from(r.deviceKey).toString('hex'), nowMs);
      }
    }
  }

  private async readResyncs(): Promise<void> {
    const metric = await this.metrics.controlsSent.get();
    this.resyncs = metric.values.filter((v) => v.labels.kind === 'resync').reduce((sum, v) => sum + v.value, 0);
  }
}

/** What a sample saw of a channel: its share of the sums. */
interface SeenChannel {
  seq: bigint;
  units: bigint;
  amount: bigint;
  settled: bigint;
  state: ChannelState;
}

const isFlagged = (ch: Readonly<LiveChannel>): boolean => ch.equivocated || ch.state === 'exhausted';

// ---- per-channel history, read from the store -------------------------------------------------

export interface UsagePoint {
  atMs: string;
  seq: string;
  cumUnits: string;
  cumAmount: string;
}

/**
 * A channel's cumulative usage over its whole life, from the segments the store already keeps:
 * up to `maxPoints` segments picked evenly by seq, each giving (time received, cumulative units).
 * Evenly by seq, not by time, so busy periods get more points; the curve survives a hub restart.
 */
export async function channelUsage(
  store: HubLedger,
  ch: Readonly<LiveChannel>,
  maxPoints = 120,
): Promise<UsagePoint[]> {
  const points: UsagePoint[] = [{ atMs: ch.record.openedAtMs.toString(), seq: '0', cumUnits: '0', cumAmount: '0' }];
  const head = ch.durable.seq;
  const n = BigInt(Math.max(1, maxPoints));
  let lastSeq = 0n;
  let lastAt = ch.record.openedAtMs;
  for (let k = 1n; k <= n && head > 0n; k++) {
    const seq = (head * k + n - 1n) / n;
    if (seq <= lastSeq) continue;
    const row = await store.segmentContaining(ch.id, seq);
    if (!row || row.lastSeq <= lastSeq) continue;
    lastSeq = row.lastSeq;
    // Segments can arrive out of order across reconnects; keep time monotone for the chart.
    lastAt = row.receivedAtMs > lastAt ? row.receivedAtMs : lastAt;
    points.push({
      atMs: lastAt.toString(),
      seq: row.lastSeq.toString(),
      cumUnits: row.cumUnits.toString(),
      cumAmount: row.cumAmount.toString(),
    });
  }
  return points;
}

export interface ChannelSettlement {
  epoch: string;
  closedAtMs: string;
  fromSeq: string;
  toSeq: string;
  deltaUnits: string;
  deltaAmount: string;
  cumAmount: string;
}

/** Closed epochs never change, so their entries are decoded once and kept (the newest few). */
export class EpochEntryCache {
  private readonly byEpoch = new Map<bigint, Map<string, ChannelSettlement>>();

  constructor(
    private readonly store: HubLedger,
    private readonly keep = 20,
  ) {}

  /** The channel's entries in the newest `keep` epochs, newest first. */
  async forChannel(channelHex: string): Promise<ChannelSettlement[]> {
    const epochs = (await this.store.listEpochs()).sort((a, b) => (a.epoch < b.epoch ? 1 : -1)).slice(0, this.keep);
    const wanted = new Set(epochs.map((e) => e.epoch));
    for (const e of this.byEpoch.keys()) if (!wanted.has(e)) this.byEpoch.delete(e);
    const out: ChannelSettlement[] = [];
    for (const e of epochs) {
      let entries = this.byEpoch.get(e.epoch);
      if (!entries) {
        entries = new Map();
        for (const row of await this.store.epochEntries(e.epoch)) {
          const d = decodeEntry(row.entry);
          if (!d.ok) continue;
          const v = d.value;
          entries.set(toHex(v.channelId), {
            epoch: e.epoch.toString(),
            closedAtMs: e.closedAtMs.toString(),
            fromSeq: v.fromSeq.toString(),
            toSeq: v.toSeq.toString(),
            deltaUnits: v.deltaUnits.toString(),
            deltaAmount: v.deltaAmount.toString(),
            cumAmount: v.cumAmount.toString(),
          });
        }
        this.byEpoch.set(e.epoch, entries);
      }
      const mine = entries.get(channelHex);
      if (mine) out.push(mine);
    }
    return out;
  }
}
