// The hub's core: registry + store + controls + ingest pipeline, and the management operations
// (enrol, revoke, top up, close, settle, export). It knows nothing of sockets: the server wires
// a broker link to it, the CLI uses it directly on a stopped hub, tests drive it either way.

import { randomBytes } from 'node:crypto';
import {
  channelIdOf,
  encodeChannelRecord,
  parsePublicKeyHex,
  toHex,
  U64_MAX,
  validateChannelRecord,
  fromHex,
  type ChannelRecord,
} from '../../protocol/index.js';
import { ApiError } from '../base/api-errors.js';
import type { HubConfig } from '../base/config.js';
import type { HubIdentity } from '../store/datadir.js';
import { IngestPipeline } from '../ingest/pipeline.js';
import type { SignatureVerifier } from '../ingest/signature-pool.js';
import type { HubMetrics } from '../base/metrics.js';
import { exportBundle, exportCsv } from '../settlement/export.js';
import { closeEpoch } from '../settlement/settle.js';
import {
  StoreConflictError,
  type ChannelRow,
  type DeviceRow,
  type HubLedger,
  type HubStore,
  type NewChannel,
} from '../store/types.js';
import { Controls } from '../model/controls.js';
import { dropWaiting } from '../ingest/reorder.js';
import { ENROLLED_PER_NOTIFY, type ControlChange } from '../store/control-notify.js';
import type { Downlink } from '../model/downlink.js';
import { liveChannelFromRow, Registry, type FleetView, type LiveChannel, type LiveDevice } from '../model/registry.js';
import { fleetSnapshot } from '../model/fleet-snapshot.js';
import { fleetTotals } from '../model/fleet-totals.js';
import { channelView, deviceView, epochView, rejectionCountView, rejectionView } from '../model/views.js';
import { parseThreshold } from '../base/webhook-config.js';
import { formatThreshold } from '../model/low-capacity.js';
import { channelFacts, WebhookAlerts } from '../model/webhook-alerts.js';
import { channelEvents, deviceEvents } from '../model/webhook-events.js';
import { WebhookAdmin } from './webhook-admin.js';

export interface EnrolRequest {
  publicKey: string;
  unit: string;
  /** Both or neither: a currency makes the channel record version 2 [P-3.1]. */
  currency?: string;
  exponent?: number;
  pricePerUnit: bigint;
  capacity: bigint;
  /** 0 or absent = never. */
  expiresAtMs?: bigint;
}

export interface CoreLinks {
  downlink: Downlink;
  /** Closes a device's broker connection; absent with an external broker (its ACL must deny). */
  disconnectDevice?: (deviceHex: string) => void;
  /** With an external broker the hub cannot see connections, so it sends GRANTs unconditionally. */
  seesConnections: boolean;
}

/** What a cluster member adds to the core (hub/cluster/member.ts). */
export interface ClusterHooks {
  /** A management write committed: every hub hears it, the device's owner applies it. */
  changed(change: ControlChange): Promise<void>;
  /** Runs `task` as the cluster's only settler; undefined (task not run) when `wait` is false and
   *  another hub is settling now. */
  settling<T>(wait: boolean, task: () => Promise<T>): Promise<T | undefined>;
}

/** Downlink messages held until attach() (at most this many; past it the devices re-send). */
const MAX_EARLY_DOWNLINK = 100_000;

export class HubCore {
  readonly controls: Controls;
  readonly pipeline: IngestPipeline;
  /** Which webhook events a change causes; the thresholds and the offline watch. */
  readonly alerts: WebhookAlerts;
  readonly webhooks: WebhookAdmin;
  /**
   * What the core published before attach(). A hub on an external broker with a persistent session
   * is handed the uplinks queued for it the moment it connects, before its link reaches the core;
   * the receipts of the ones committed by then wait here rather than vanish (the device would wait
   * for its acknowledgement timer, 15 s by default, and send them again).
   */
  private early: ((downlink: Downlink) => void)[] = [];
  private links: CoreLinks = {
    downlink: {
      publishReceipt: (deviceHex, bytes) => this.holdEarly((d) => d.publishReceipt(deviceHex, bytes)),
      publishControl: (deviceHex, bytes) => this.holdEarly((d) => d.publishControl(deviceHex, bytes)),
    },
    seesConnections: true,
  };
  /** Cluster mode: which devices this hub owns now (hub/cluster/member.ts sets it). */
  private ownsDevice: (deviceHex: string) => boolean = () => true;
  private cluster: ClusterHooks | undefined;
  /** Told when events were written, so the delivery loop looks at once (server.ts sets it). */
  onWebhookEvents: () => void = () => {};

  /** Loads devices and channels from the store, then builds the core over them. */
  static async open(
    config: HubConfig,
    identity: HubIdentity,
    store: HubStore,
    metrics: HubMetrics,
    now: () => number = Date.now,
    verifier?: SignatureVerifier,
  ): Promise<HubCore> {
    return new HubCore(config, identity, store, await Registry.load(store), metrics, now, verifier);
  }

  private constructor(
    readonly config: HubConfig,
    readonly identity: HubIdentity,
    private readonly store: HubStore,
    private readonly registry: Registry,
    readonly metrics: HubMetrics,
    readonly now: () => number = Date.now,
    verifier?: SignatureVerifier,
  ) {
    this.alerts = new WebhookAlerts(
      { hubKeyHex: identity.publicKeyHex, network: identity.network },
      parseThreshold(config.webhooks.lowCapacity)!,
      config.webhooks.offlineAfterMs,
    );
    this.webhooks = new WebhookAdmin(store.outbox, now);
    const downlink: Downlink = {
      publishReceipt: (d, b) => this.links.downlink.publishReceipt(d, b),
      publishControl: (d, b) => this.links.downlink.publishControl(d, b),
    };
    this.controls = new Controls(identity.keyPair.secretKey, downlink, metrics, now);
    this.pipeline = new IngestPipeline({
      store,
      registry: this.registry,
      metrics,
      controls: this.controls,
      config,
      now,
      pool: verifier,
      onHello: (hex) => this.greet(hex, true),
      // With the embedded broker the sockets say who is connected; a status "offline" (the last
      // will of a session a newer one took over, or a device's own claim) must not contradict them.
      onOffline: (hex) => {
        if (!this.links.seesConnections) this.setConnected(hex, false);
      },
      owns: (ch) => this.ownsDevice(ch.deviceHex),
      alerts: this.alerts,
      onEvents: () => this.onWebhookEvents(),
    });
  }

  /** Loads what the webhook events need besides the registry (each channel's own threshold). */
  async loadWebhookState(): Promise<void> {
    for (const t of await this.store.outbox.listThresholds()) {
      const parsed = parseThreshold(t.lowCapacity);
      if (parsed) this.alerts.thresholds.set(toHex(t.channelId), parsed);
    }
  }

  /** Cluster mode: from now on only these devices are served (the others' uplinks do not reach
   *  this hub, and a refused commit leaves them to their owner). */
  setOwnership(owns: (deviceHex: string) => boolean, hooks?: ClusterHooks): void {
    this.ownsDevice = owns;
    this.cluster = hooks;
  }

  /** Cluster mode: tells the other hubs (the device's owner) about a management write. */
  private async changed(change: ControlChange): Promise<void> {
    try {
      await this.cluster?.changed(change);
    } catch (err) {
      // The write is committed; the owner still picks it up when it next loads the partition.
      this.config.log.event('CONTROL_NOT_ANNOUNCED', { err });
    }
  }

  /** Cluster mode: a device owned by another hub may have moved on since this hub last loaded it;
   *  a management write on it starts from the database. */
  private async fresh(deviceHex: string): Promise<void> {
    if (this.cluster && !this.ownsDevice(deviceHex)) await this.loadDevices({ deviceHex });
  }

  /**
   * Cluster mode, a change another hub committed to a device this hub owns: new capacity, state
   * and channels from the database, the heads as this hub holds them (it is their only writer);
   * then the device's controls at once (GRANT, and CAPACITY after a top-up) [P-7.1, P-7.3].
   */
  async applyStored(deviceHex: string, capacityNotice: boolean): Promise<void> {
    const key = fromHex(deviceHex);
    if (!key) return;
    await this.exclusive(async () => {
      const row = await this.store.getDevice(key);
      if (!row) return;
      const device = this.registry.devices.get(deviceHex) ?? this.registry.addDevice(row);
      if (row.revokedAtMs !== null) device.revoked = true;
      this.registry.noteDevice(device);
      for (const c of await this.store.listChannels({ deviceKey: key })) {
        const live = this.registry.channels.get(toHex(c.channelId));
        if (!live) {
          this.registry.addChannel(liveChannelFromRow(c));
          continue;
        }
        live.capacity = c.capacity;
        if (c.state === 'closed' || c.state === 'revoked') live.state = c.state;
        else if (live.state === 'exhausted' && live.head.cumAmount + live.pricePerUnit <= c.capacity)
          live.state = 'open';
        this.registry.noteChannel(live);
      }
    });
    const device = this.registry.devices.get(deviceHex);
    const ch = this.registry.currentChannel(deviceHex);
    if (!device || !ch) return;
    this.controls.grant(device, ch, true);
    if (capacityNotice) this.controls.capacity(ch);
  }

  /**
   * Cluster mode, a partition gained: replaces the live state of the matching devices (and adds
   * those enrolled by other hubs) with what the database holds now, heads as committed by whoever
   * committed them. In the commit line, so no group commit interleaves.
   */
  async loadDevices(which: { partitions: readonly number[] } | { deviceHex: string }): Promise<number> {
    return this.exclusive(async () => {
      // Two reads for the whole set, the database choosing the rows [P-6.7]: not the fleet's device
      // list and a query per device for each partition a hub takes over.
      let rows: DeviceRow[];
      let channels: ChannelRow[];
      if ('partitions' in which) {
        rows = await this.store.listDevices({ partitions: which.partitions });
        channels = await this.store.listChannels({ partitions: which.partitions });
      } else {
        const key = fromHex(which.deviceHex);
        const row = key && (await this.store.getDevice(key));
        rows = row ? [row] : [];
        channels = row ? await this.store.listChannels({ deviceKey: row.deviceKey }) : [];
      }
      const channelsOf = new Map<string, ChannelRow[]>();
      for (const c of channels) {
        const hex = toHex(c.deviceKey);
        const list = channelsOf.get(hex);
        if (list) list.push(c);
        else channelsOf.set(hex, [c]);
      }
      for (const row of rows) {
        const hex = toHex(row.deviceKey);
        const old = this.registry.devices.get(hex);
        if (old) this.forgetDevice(old);
        const device = this.registry.addDevice(row);
        if (old) device.connected = old.connected;
        for (const ch of old?.channels ?? []) this.registry.removeChannel(ch);
        for (const c of channelsOf.get(hex) ?? []) this.registry.addChannel(liveChannelFromRow(c));
      }
      return rows.length;
    });
  }

  /**
   * Cluster mode, a partition just gained (its devices loaded, its uplinks subscribed): each of its
   * devices gets RESYNC with its committed head [P-6.7]. What a device sent to the previous owner
   * and never got a receipt for is re-sent at once; without this the device waits for its
   * acknowledgement timer (15 s by default), and a device whose window is full of segments sent to
   * a dead hub sends nothing the new owner could notice as a gap.
   */
  resyncDevices(match: (deviceHex: string) => boolean): number {
    let n = 0;
    for (const d of this.registry.devices.values()) {
      if (d.revoked || !match(d.hex)) continue;
      const ch = this.registry.currentChannel(d.hex);
      if (!ch || ch.state === 'closed' || ch.state === 'revoked') continue;
      this.controls.resync(ch, ch.durable, 'SEQ_GAP');
      n++;
    }
    return n;
  }

  /**
   * Cluster mode, a partition lost: the matching devices' uncommitted segments, reorder buffers
   * and owed receipts are dropped at once, so nothing more is acknowledged for them here. The
   * devices still hold what was not receipted and re-send it to the new owner.
   */
  dropDevices(match: (deviceHex: string) => boolean): number {
    let n = 0;
    for (const d of this.registry.devices.values()) {
      if (!match(d.hex)) continue;
      this.forgetDevice(d);
      n++;
    }
    return n;
  }

  private forgetDevice(d: LiveDevice): void {
    for (const id of d.channels) {
      const ch = this.registry.channels.get(id);
      if (!ch) continue;
      this.pipeline.commit.forget(ch);
      dropWaiting(this.registry, ch);
      ch.pending = [];
      ch.held = [];
      ch.head = ch.durable;
    }
  }

  /** The committed ledger, read-only: what the dashboard, tools and tests read. */
  get ledger(): HubLedger {
    return this.store;
  }

  /** Devices and channels as the hub holds them in memory, read-only. */
  get fleet(): FleetView {
    return this.registry;
  }

  attach(links: CoreLinks): void {
    this.links = links;
    for (const send of this.early.splice(0)) send(links.downlink);
  }

  private holdEarly(send: (downlink: Downlink) => void): void {
    if (this.early.length < MAX_EARLY_DOWNLINK) this.early.push(send);
  }

  /** Places every segment received so far and commits whatever the pipeline holds, so a reader
   *  sees durable state. */
  async flush(): Promise<void> {
    await this.pipeline.placed();
    await this.pipeline.commit.flush();
  }

  /** A management write: after everything received so far is committed, and before any later
   *  group commit, so the two never interleave. */
  private async exclusive<T>(task: () => Promise<T>): Promise<T> {
    await this.pipeline.placed();
    return this.pipeline.commit.exclusive(task);
  }

  // ---- devices and connections -------------------------------------------------------------

  /** GRANT (and the latest receipt, so a restarted device can prune its outbox) [P-7.1]. */
  greet(deviceHex: string, fromHello: boolean): void {
    const device = this.registry.devices.get(deviceHex);
    const ch = this.registry.currentChannel(deviceHex);
    if (!device || !ch) return;
    if (fromHello && !this.links.seesConnections && !device.connected) {
      device.connected = true;
      this.registry.noteDevice(device);
    }
    this.controls.grant(device, ch);
    if (ch.lastReceipt && ch.durable.seq > 0n) this.controls.publishReceipt(ch, ch.lastReceipt);
  }

  setConnected(deviceHex: string, connected: boolean): void {
    const device = this.registry.devices.get(deviceHex);
    if (!device || device.connected === connected) return;
    device.connected = connected;
    this.registry.noteDevice(device);
    this.metrics.devicesConnected.inc(connected ? 1 : -1);
    if (connected) this.alerts.offline.connected(deviceHex);
    else this.alerts.offline.disconnected(deviceHex, this.now());
  }

  /** device.offline for every device whose disconnect came due (model/offline-watch.ts): the work
   *  is the due ones, not the fleet. A revoked device is not reported. */
  async checkOffline(): Promise<number> {
    const nowMs = this.now();
    const events = [];
    for (const due of this.alerts.offline.due(nowMs)) {
      const d = this.registry.devices.get(due.deviceHex);
      if (!d || d.revoked || d.connected) continue;
      events.push(
        deviceEvents.offline(
          this.alerts.source,
          d.key,
          BigInt(due.disconnectedAtMs),
          this.alerts.offline.offlineAfterMs,
          BigInt(nowMs),
        ),
      );
    }
    if (events.length > 0) {
      await this.store.outbox.appendEvents(events);
      this.onWebhookEvents();
    }
    return events.length;
  }

  deviceStatus(deviceHex: string): { revoked: boolean; credentialFloorMs: bigint } | undefined {
    const d = this.registry.devices.get(deviceHex);
    return d && { revoked: d.revoked, credentialFloorMs: d.credentialFloorMs };
  }

  /** A broker credential of the device was accepted: only newer ones will be [P-6.4]. */
  credentialUsed(deviceHex: string, issuedAtMs: bigint): void {
    const d = this.registry.devices.get(deviceHex);
    if (!d || issuedAtMs <= d.credentialFloorMs) return;
    d.credentialFloorMs = issuedAtMs;
    this.pipeline.commit.credentialUsed(d.key, issuedAtMs);
  }

  private newChannel(req: EnrolRequest, index: number, nowMs: bigint): { record: ChannelRecord; channel: NewChannel } {
    const where = `devices[${index}]`;
    const key = parsePublicKeyHex(typeof req.publicKey === 'string' ? req.publicKey.toLowerCase() : '');
    if (!key.ok) throw new ApiError('API_INVALID', `${where}.publicKey: ${key.code}`);
    const expiresAtMs = req.expiresAtMs ?? 0n;
    if (expiresAtMs !== 0n && expiresAtMs <= nowMs)
      throw new ApiError('API_INVALID', `${where}.expires is in the past`);
    const record: ChannelRecord = {
      network: this.identity.network,
      hubKey: this.identity.keyPair.publicKey,
      deviceKey: key.value,
      unit: req.unit,
      ...(req.currency !== undefined ? { currency: req.currency, exponent: req.exponent } : {}),
      pricePerUnit: req.pricePerUnit,
      capacity: req.capacity,
      openedAtMs: nowMs,
      expiresAtMs,
      // A fresh nonce makes a reopened channel a new id [P-3.1].
      nonce: randomBytes(8).readBigUInt64BE(0),
    };
    const valid = validateChannelRecord(record);
    if (!valid.ok)
      throw new ApiError('API_INVALID', `${where}: ${valid.code}${valid.detail ? ` (${valid.detail})` : ''}`);
    const bytes = encodeChannelRecord(record);
    return {
      record,
      channel: {
        channelId: channelIdOf(bytes),
        deviceKey: key.value,
        record: bytes,
        unit: record.unit,
        pricePerUnit: record.pricePerUnit,
        capacity: record.capacity,
        openedAtMs: nowMs,
        expiresAtMs,
      },
    };
  }

  /** Enrols devices and opens their channels, all or none. */
  async enrol(requests: EnrolRequest[]) {
    if (requests.length === 0) throw new ApiError('API_INVALID', 'no devices');
    const nowMs = BigInt(this.now());
    const built = requests.map((r, i) => this.newChannel(r, i, nowMs));
    const seen = new Set<string>();
    for (const b of built) {
      const hex = toHex(b.channel.deviceKey);
      if (seen.has(hex) || this.registry.devices.has(hex))
        throw new ApiError('API_CONFLICT', `device already enrolled: ${hex}`);
      seen.add(hex);
    }
    const rows = await this.exclusive(async () => {
      // Checked again in line: another enrolment may have finished while this one waited.
      for (const b of built) {
        const hex = toHex(b.channel.deviceKey);
        if (this.registry.devices.has(hex)) throw new ApiError('API_CONFLICT', `device already enrolled: ${hex}`);
      }
      try {
        return await this.store.enrol(
          built.map((b) => ({ deviceKey: b.channel.deviceKey, atMs: nowMs, channel: b.channel })),
        );
      } catch (err) {
        if (err instanceof StoreConflictError) throw new ApiError('API_CONFLICT', err.message);
        throw err;
      }
    });
    const out = [];
    for (const [i, b] of built.entries()) {
      const device = this.registry.addDevice({
        deviceKey: b.channel.deviceKey,
        enrolledAtMs: nowMs,
        revokedAtMs: null,
        credentialFloorMs: 0n,
      });
      const ch = liveChannelFromRow(rows[i]!);
      this.registry.addChannel(ch);
      if (device.connected || !this.links.seesConnections) this.controls.grant(device, ch, true);
      out.push({ device: deviceView(device, ch), channel: channelView(ch) });
    }
    // The owners hear of them in notifications of up to 100 keys, not one per device.
    const keys = built.map((b) => toHex(b.channel.deviceKey));
    for (let i = 0; i < keys.length; i += ENROLLED_PER_NOTIFY)
      await this.changed({ kind: 'devices', deviceKeys: keys.slice(i, i + ENROLLED_PER_NOTIFY), op: 'enrol' });
    return out;
  }

  findDevice(id: string, fleet: Registry = this.registry): LiveDevice {
    const d = fleet.devices.get(id.toLowerCase());
    if (!d) throw new ApiError('API_NOT_FOUND', `no device ${id}`);
    return d;
  }

  /** A channel by full id or by a unique prefix of at least 8 hex characters. */
  findChannel(id: string, fleet: Registry = this.registry): LiveChannel {
    const wanted = id.toLowerCase();
    const exact = fleet.channels.get(wanted);
    if (exact) return exact;
    if (/^[0-9a-f]{8,63}$/.test(wanted)) {
      const matches = [...fleet.channels.values()].filter((c) => c.idHex.startsWith(wanted));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new ApiError('API_INVALID', `channel prefix ${id} is ambiguous`);
    }
    throw new ApiError('API_NOT_FOUND', `no channel ${id}`);
  }

  /** The devices this hub holds live (in a cluster, those of the partitions it owns). */
  listDevices(fleet: Registry = this.registry) {
    return [...fleet.devices.values()].map((d) => deviceView(d, fleet.currentChannel(d.hex)));
  }

  showDevice(id: string, fleet: Registry = this.registry) {
    const d = this.findDevice(id, fleet);
    return {
      ...deviceView(d, fleet.currentChannel(d.hex)),
      channelDetails: d.channels.map((c) => channelView(fleet.channels.get(c)!)),
    };
  }

  /**
   * What the HTTP API and the management commands show: the whole fleet. On one hub that is its
   * live state; in a cluster, the database's committed state (another hub may have closed the
   * last epoch), and whether a device is connected as only its owner knows (elsewhere: not).
   */
  async fleetSnapshot(): Promise<Registry> {
    return this.cluster ? fleetSnapshot(this.store, this.registry, this.ownsDevice) : this.registry;
  }

  async fleetDevices() {
    return this.listDevices(await this.fleetSnapshot());
  }

  async fleetDevice(id: string) {
    return this.showDevice(id, await this.fleetSnapshot());
  }

  /** A channel's device, found in the whole fleet: a management write may name any channel. A
   *  channel never changes device, so a full id this hub holds answers without reading the fleet
   *  (a prefix must be unique in the whole fleet, so it is looked up there). */
  private async deviceOfChannel(id: string): Promise<string> {
    const held = this.registry.channels.get(id.toLowerCase());
    if (held || !this.cluster) return held?.deviceHex ?? this.findChannel(id).deviceHex;
    return this.findChannel(id, await this.fleetSnapshot()).deviceHex;
  }

  /** Revokes a device: its channels stop accepting, its broker connection is closed. */
  async revoke(id: string) {
    await this.fresh(id.toLowerCase());
    const d = this.findDevice(id);
    await this.exclusive(async () => {
      if (d.revoked) return;
      const atMs = BigInt(this.now());
      const channelIds = d.channels.map((cid) => this.registry.channels.get(cid)!.id);
      await this.store.revokeDevice(d.key, atMs, [deviceEvents.revoked(this.alerts.source, d.key, channelIds, atMs)]);
      this.onWebhookEvents();
      d.revoked = true;
      this.registry.noteDevice(d);
      for (const cid of d.channels) {
        const ch = this.registry.channels.get(cid)!;
        ch.state = 'revoked';
        this.registry.noteChannel(ch);
        this.controls.grant(d, ch, true);
      }
      this.links.disconnectDevice?.(d.hex);
    });
    await this.changed({ kind: 'device', deviceKey: d.hex, op: 'revoke' });
    return this.showDevice(id);
  }

  listChannels(fleet: Registry = this.registry) {
    return [...fleet.channels.values()].map(channelView);
  }

  /** Every channel of the fleet (see fleetSnapshot). */
  async fleetChannels() {
    return this.listChannels(await this.fleetSnapshot());
  }

  async showChannel(id: string) {
    const ch = this.findChannel(id, await this.fleetSnapshot());
    const [segments, equivocations] = [
      await this.store.countSegments(ch.id),
      await this.store.listEquivocations(ch.id),
    ];
    return {
      ...channelView(ch),
      segments,
      equivocations: equivocations.map((e) => ({
        seq: e.seq.toString(),
        storedHash: toHex(e.storedHash),
        segment: toHex(e.segment),
        detectedAtMs: e.detectedAtMs.toString(),
      })),
    };
  }

  /** Raises capacity [P-3.3]; an exhausted channel opens again and the device is told [P-7.3]. */
  async topup(id: string, amount: bigint) {
    await this.fresh(await this.deviceOfChannel(id));
    const found = this.findChannel(id);
    if (amount < 1n) throw new ApiError('API_INVALID', 'amount must be >= 1');
    const view = await this.exclusive(async () => {
      // The live channel as it stands now (a failed commit may have reloaded it meanwhile).
      const ch = this.findChannel(found.idHex);
      if (ch.state === 'closed' || ch.state === 'revoked') throw new ApiError('API_CONFLICT', `channel is ${ch.state}`);
      const capacity = ch.capacity + amount;
      if (capacity > U64_MAX) throw new ApiError('API_INVALID', 'capacity would exceed u64');
      const state = ch.state === 'exhausted' && ch.durable.cumAmount + ch.pricePerUnit <= capacity ? 'open' : ch.state;
      const atMs = BigInt(this.now());
      const event = channelEvents.toppedUp(
        this.alerts.source,
        { ...channelFacts(ch), capacity },
        amount,
        ch.capacity,
        state,
        atMs,
      );
      await this.store.setChannelCapacity(ch.id, capacity, state, atMs, [event]);
      this.onWebhookEvents();
      ch.capacity = capacity;
      ch.state = state;
      this.registry.noteChannel(ch);
      this.controls.capacity(ch);
      const device = this.registry.devices.get(ch.deviceHex);
      if (device) this.controls.grant(device, ch, true);
      return channelView(ch);
    });
    await this.changed({ kind: 'channel', channelId: found.idHex, deviceKey: found.deviceHex, op: 'topup' });
    return view;
  }

  /** Closes a channel: nothing more is accepted; what was accepted still settles. */
  async closeChannel(id: string) {
    await this.fresh(await this.deviceOfChannel(id));
    const found = this.findChannel(id);
    const view = await this.exclusive(async () => {
      const ch = this.findChannel(found.idHex);
      if (ch.state !== 'closed' && ch.state !== 'revoked') {
        const atMs = BigInt(this.now());
        await this.store.setChannelState(ch.id, 'closed', atMs, [
          channelEvents.closed(this.alerts.source, channelFacts(ch), atMs),
        ]);
        this.onWebhookEvents();
        ch.state = 'closed';
        this.registry.noteChannel(ch);
        const device = this.registry.devices.get(ch.deviceHex);
        if (device) this.controls.grant(device, ch, true);
      }
      return channelView(ch);
    });
    await this.changed({ kind: 'channel', channelId: found.idHex, deviceKey: found.deviceHex, op: 'close' });
    return view;
  }

  /** A channel's own channel.low_capacity threshold ("5000", "10%", "off"), or null for the hub's
   *  default. Takes effect from the next commit: a channel already below it does not fire. */
  async setLowCapacity(id: string, threshold: string | null) {
    const ch = this.findChannel(id);
    const parsed = threshold === null ? null : parseThreshold(threshold);
    if (parsed === undefined)
      throw new ApiError('API_INVALID', 'lowCapacity is minor units (5000), a share (10%) or off');
    await this.store.outbox.setThreshold(ch.id, parsed === null ? null : formatThreshold(parsed));
    if (parsed === null) this.alerts.thresholds.delete(ch.idHex);
    else this.alerts.thresholds.set(ch.idHex, parsed);
    return this.lowCapacityView(ch.idHex);
  }

  lowCapacityView(idHex: string) {
    const ch = this.findChannel(idHex);
    const own = this.alerts.thresholds.get(ch.idHex);
    return {
      channelId: ch.idHex,
      lowCapacity: formatThreshold(own ?? this.alerts.defaultLowCapacity),
      source: own ? 'channel' : 'default',
    };
  }

  // ---- settlement --------------------------------------------------------------------------

  /** Called after each epoch is closed (the anchoring loop listens, hub/anchor/service.ts). */
  onEpochClosed: (() => void) | undefined;

  async settle(options: { skipEmpty?: boolean } = {}) {
    const close = () =>
      closeEpoch({
        store: this.store,
        hubKey: this.identity.keyPair,
        network: this.identity.network,
        nowMs: BigInt(this.now()),
        events: this.alerts.source,
        ...options,
      });
    // In a cluster one chain of epochs [P-8]: one hub settles at a time, from committed heads; a
    // periodic settlement gives way to one in progress, one asked for waits its turn.
    const cluster = this.cluster;
    // The lock is taken before the commit line is, so waiting for it never holds up ingest.
    const result = cluster
      ? await cluster.settling(!options.skipEmpty, () => this.exclusive(close))
      : await this.exclusive(close);
    if (!result) return undefined;
    this.onWebhookEvents();
    for (const [idHex, head] of result.settled) {
      const ch = this.registry.channels.get(idHex);
      if (!ch) continue;
      ch.settled = head;
      this.registry.noteChannel(ch);
    }
    this.onEpochClosed?.();
    return epochView(result.epoch);
  }

  async listEpochs() {
    return (await this.store.listEpochs()).map(epochView);
  }

  async showEpoch(epoch: bigint) {
    const row = await this.store.getEpoch(epoch);
    if (!row) throw new ApiError('API_NOT_FOUND', `no epoch ${epoch}`);
    const anchor = await this.store.epochAnchor(epoch);
    return {
      ...epochView(row),
      /** Where the root is anchored on chain (docs/settlement.md); null while pending or not anchored. */
      anchor: anchor === undefined ? null : (JSON.parse(anchor) as unknown),
      channels: (await this.store.epochEntries(epoch)).map((e) => ({
        channelId: toHex(e.channelId),
        toSeq: e.toSeq.toString(),
      })),
    };
  }

  bundle(epoch: bigint, channelIds?: string[]) {
    return exportBundle(this.store, epoch, channelIds);
  }

  csv(epoch: bigint): Promise<string> {
    return exportCsv(this.store, epoch);
  }

  // ---- observation -------------------------------------------------------------------------

  async rejections(query: { limit?: number; reason?: string; device?: string; channel?: string } = {}) {
    const deviceKey = query.device ? fromHex(query.device) : undefined;
    const channelId = query.channel ? fromHex(query.channel) : undefined;
    const counts = await this.store.rejectionCounts();
    const recent = await this.store.recentRejections({
      limit: Math.min(Math.max(query.limit ?? 100, 1), 10_000),
      ...(query.reason ? { reason: query.reason } : {}),
      ...(deviceKey ? { deviceKey } : {}),
      ...(channelId ? { channelId } : {}),
    });
    return { counts: counts.map(rejectionCountView), recent: recent.map(rejectionView) };
  }

  /** Fleet totals from committed state; what a conservation check compares against. */
  async stats() {
    // Fleet totals in a cluster from the whole fleet; connected devices as this hub sees them.
    return { ...fleetTotals(await this.fleetSnapshot()), ...(await this.ledgerTotals()) };
  }

  /** The part of stats() the store and the reorder buffers answer: rejections, equivocations,
   *  waiting segments, the last epoch. */
  async ledgerTotals() {
    let rejectedEvents = 0n;
    let rejectedVouchers = 0n;
    for (const c of await this.store.rejectionCounts()) {
      rejectedEvents += c.events;
      rejectedVouchers += c.vouchers;
    }
    return {
      rejectedEvents: rejectedEvents.toString(),
      rejectedVouchers: rejectedVouchers.toString(),
      equivocations: await this.store.countEquivocations(),
      waitingSegments: this.registry.waitingTotal,
      lastEpoch: (await this.store.lastEpoch())?.epoch.toString() ?? null,
    };
  }

  /** True when this hub is one of a cluster (its registry holds only the partitions it owns). */
  get clustered(): boolean {
    return this.cluster !== undefined;
  }
}
