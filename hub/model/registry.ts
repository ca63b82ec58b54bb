// The hub's in-memory view of devices and channels, loaded from the store at start and kept in
// step with it by the management operations. The ingest pipeline reads and advances it; the
// store stays the authority (every head move is guarded there, see HeadUpdate).

import {
  decodeChannelRecord,
  toHex,
  type ChannelRecord,
  type ChannelState,
  type Head,
  type Segment,
} from '../../protocol/index.js';
import type { ChannelRow, DeviceRow, HubStore } from '../store/types.js';

/** A segment accepted by the pipeline, waiting for its group commit. */
export interface PendingSegment {
  firstSeq: bigint;
  /** First seq it adds (> firstSeq when it overlapped the head). */
  newFromSeq: bigint;
  lastSeq: bigint;
  /** voucherHash of every voucher from firstSeq, and their cumulative values. */
  hashes: Uint8Array[];
  cumUnits: bigint[];
  cumAmounts: bigint[];
  bytes: Uint8Array;
  receivedAtMs: bigint;
  /** performance.now() when the message reached the hub, for the latency histogram. */
  arrivedAt: number;
  /** 'pending' while a worker checks the device signature; only 'ok' segments are committed. */
  signature: 'ok' | 'pending';
}

/** The chain head at the end of a pending segment. */
export function pendingHead(p: PendingSegment) {
  const j = p.hashes.length - 1;
  return { seq: p.lastSeq, hash: p.hashes[j]!, cumUnits: p.cumUnits[j]!, cumAmount: p.cumAmounts[j]! };
}

/**
 * The head a RESYNC may announce: the end of the leading run of pending segments whose signature is
 * confirmed, else the durable head. A segment still being checked may be a forgery; announcing its
 * hash would make the device see a head it never signed [P-5.3].
 */
export function verifiedHead(ch: Pick<LiveChannel, 'pending' | 'durable'>): Head {
  let k = 0;
  while (k < ch.pending.length && ch.pending[k]!.signature === 'ok') k++;
  return k > 0 ? pendingHead(ch.pending[k - 1]!) : ch.durable;
}

export interface WaitingSegment {
  segment: Segment;
  firstSeq: bigint;
  lastSeq: bigint;
  bytes: Uint8Array;
  arrivedAt: number;
  receivedAtMs: bigint;
}

export interface LiveChannel {
  readonly id: Uint8Array;
  readonly idHex: string;
  readonly deviceKey: Uint8Array;
  readonly deviceHex: string;
  readonly record: ChannelRecord;
  readonly recordBytes: Uint8Array;
  readonly pricePerUnit: bigint;
  readonly expiresAtMs: bigint;
  capacity: bigint;
  state: ChannelState;
  /** Head as committed to the database. */
  durable: Head;
  /** Head including segments accepted but not yet committed. */
  head: Head;
  pending: PendingSegment[];
  /** Out-of-order segments waiting for the gap before them [P-5.3]. */
  waiting: WaitingSegment[];
  /** Segments that conflict with vouchers whose signature a worker is still checking: placed
   *  again once the verdict is in, so a forgery chained first never makes the genuine segment
   *  look like equivocation. */
  held: WaitingSegment[];
  lastReceipt: Uint8Array | null;
  equivocated: boolean;
  settled: Head;
  /** head.seq at which the last RESYNC was sent, so a burst of gaps asks once. */
  resyncedAtSeq: bigint | null;
  /** Set when the state changed outside a head move (exhausted), so the next commit writes it. */
  stateDirty: boolean;
  /** The state has just become exhausted: tell the device after the commit [P-7.3]. */
  exhaustedNotice: boolean;
  /** ... and write channel.exhausted with the commit that stores the state (webhooks). */
  exhaustedEvent?: boolean;
}

export interface LiveDevice {
  readonly key: Uint8Array;
  readonly hex: string;
  revoked: boolean;
  enrolledAtMs: bigint;
  /** Channel ids in opening order; the last one is the current channel. */
  channels: string[];
  connected: boolean;
  /** When and what the last GRANT said, to answer a burst of hellos once. */
  lastGrant: { atMs: number; key: string } | null;
  /** issuedAtMs of the newest broker credential accepted: a credential works once [P-6.4]. */
  credentialFloorMs: bigint;
}

export function liveChannelFromRow(row: ChannelRow): LiveChannel {
  const decoded = decodeChannelRecord(row.record);
  if (!decoded.ok) throw new Error(`stored channel record does not decode: ${decoded.code}`);
  const head: Head = { ...row.head };
  return {
    id: row.channelId,
    idHex: toHex(row.channelId),
    deviceKey: row.deviceKey,
    deviceHex: toHex(row.deviceKey),
    record: decoded.value,
    recordBytes: row.record,
    pricePerUnit: row.pricePerUnit,
    expiresAtMs: row.expiresAtMs,
    capacity: row.capacity,
    state: row.state,
    durable: head,
    head,
    pending: [],
    waiting: [],
    held: [],
    lastReceipt: row.receipt,
    equivocated: row.equivocated,
    settled: { ...row.settled },
    resyncedAtSeq: null,
    stateDirty: false,
    exhaustedNotice: false,
  };
}

/** The registry as readers outside the ingest path see it (HubCore.fleet): look, do not touch. */
export interface FleetView {
  readonly devices: ReadonlyMap<string, Readonly<LiveDevice>>;
  readonly channels: ReadonlyMap<string, Readonly<LiveChannel>>;
  /** Segments waiting in all reorder buffers. */
  readonly waitingTotal: number;
  currentChannel(deviceHex: string): Readonly<LiveChannel> | undefined;
  /** Channels with segments in their reorder buffer. */
  readonly waitingChannels: ReadonlySet<Readonly<LiveChannel>>;
  /** Starts following what changes from now on (see Registry.watchers). */
  watchChanges(): ChangeWatcher;
}

/** The ids of the channels and devices changed since the last take(). */
export class ChangeWatcher {
  channels = new Set<string>();
  devices = new Set<string>();

  constructor(readonly stop: () => void) {}

  take(): { channels: Set<string>; devices: Set<string> } {
    const changes = { channels: this.channels, devices: this.devices };
    this.channels = new Set();
    this.devices = new Set();
    return changes;
  }
}

export class Registry implements FleetView {
  readonly devices = new Map<string, LiveDevice>();
  readonly channels = new Map<string, LiveChannel>();
  /** Segments waiting in all reorder buffers, to bound memory hub-wide. */
  waitingTotal = 0;
  /** Channels with segments in their reorder buffer: what the gap sweep looks at, so that a tick
   *  costs the gaps there are, not the size of the fleet. */
  readonly waitingChannels = new Set<LiveChannel>();
  /** Who follows the changes (the dashboard's sample): each gets the ids of the channels whose
   *  committed head, state or flags moved, or that came or went, and of the devices whose
   *  connection or revocation changed, or that came. A sample then costs the changes, not the
   *  fleet. Whatever changes those fields says so (noteChannel, noteDevice). */
  private readonly watchers = new Set<ChangeWatcher>();

  static async load(store: HubStore): Promise<Registry> {
    const registry = new Registry();
    for (const d of await store.listDevices()) registry.addDevice(d);
    for (const c of await store.listChannels()) registry.addChannel(liveChannelFromRow(c));
    return registry;
  }

  addDevice(d: DeviceRow): LiveDevice {
    const device: LiveDevice = {
      key: d.deviceKey,
      hex: toHex(d.deviceKey),
      revoked: d.revokedAtMs !== null,
      enrolledAtMs: d.enrolledAtMs,
      channels: [],
      connected: false,
      lastGrant: null,
      credentialFloorMs: d.credentialFloorMs,
    };
    this.devices.set(device.hex, device);
    this.noteDevice(device);
    return device;
  }

  addChannel(c: LiveChannel): void {
    this.channels.set(c.idHex, c);
    this.noteChannel(c);
    this.devices.get(c.deviceHex)?.channels.push(c.idHex);
  }

  removeChannel(idHex: string): void {
    this.channels.delete(idHex);
    this.noteChannel({ idHex });
  }

  noteChannel(c: Pick<LiveChannel, 'idHex'>): void {
    for (const w of this.watchers) w.channels.add(c.idHex);
  }

  noteDevice(d: Pick<LiveDevice, 'hex'>): void {
    for (const w of this.watchers) w.devices.add(d.hex);
  }

  watchChanges(): ChangeWatcher {
    const watcher = new ChangeWatcher(() => this.watchers.delete(watcher));
    this.watchers.add(watcher);
    return watcher;
  }

  currentChannel(deviceHex: string): LiveChannel | undefined {
    const ids = this.devices.get(deviceHex)?.channels;
    const id = ids?.[ids.length - 1];
    return id === undefined ? undefined : this.channels.get(id);
  }

  /** Replaces a channel's live state with what the store holds (after a failed commit). */
  async reloadChannel(store: HubStore, idHex: string): Promise<void> {
    const old = this.channels.get(idHex);
    if (!old) return;
    const row = await store.getChannel(old.id);
    // The live channel may have been replaced meanwhile; only the one asked about is.
    if (!row || this.channels.get(idHex) !== old) return;
    this.waitingTotal -= old.waiting.length;
    this.waitingChannels.delete(old);
    this.channels.set(idHex, liveChannelFromRow(row));
    this.noteChannel({ idHex });
  }
}
