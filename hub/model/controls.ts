// Hub-signed control messages to one device [P-7]: GRANT, RESYNC, CAPACITY, REJECT, and the
// receipt bytes [P-5.1]. Every downlink message the hub sends is built here.

import {
  REASONS,
  encodeControl,
  encodeReceipt,
  makeReceipt,
  type Head,
  type ReasonCode,
} from '../../protocol/index.js';
import type { HubMetrics } from '../base/metrics.js';
import type { Downlink } from './downlink.js';
import type { LiveChannel, LiveDevice } from './registry.js';

/** Within this time an identical GRANT is not signed and sent again (a burst of hellos). */
const GRANT_REPEAT_MS = 1_000;

export class Controls {
  constructor(
    private readonly hubSecret: Uint8Array,
    private readonly downlink: Downlink,
    private readonly metrics: HubMetrics,
    private readonly now: () => number,
  ) {}

  private send(deviceHex: string, kind: string, bytes: Uint8Array): void {
    this.downlink.publishControl(deviceHex, bytes);
    this.metrics.controlsSent.inc({ kind });
  }

  /** [P-7.1] the channel as the hub holds it, with the committed head. */
  grant(device: LiveDevice, ch: LiveChannel, force = false): void {
    const key = `${ch.idHex}:${ch.state}:${ch.capacity}:${ch.durable.seq}`;
    const now = this.now();
    if (!force && device.lastGrant && device.lastGrant.key === key && now - device.lastGrant.atMs < GRANT_REPEAT_MS)
      return;
    // Only answers to a device (subscribe, hello) count for the repeat guard: a GRANT pushed after
    // an operator's change may have reached nobody, and the device's next hello must get one.
    if (!force) device.lastGrant = { atMs: now, key };
    const bytes = encodeControl(
      { kind: 'grant', record: ch.record, capacity: ch.capacity, state: ch.state, head: ch.durable },
      this.hubSecret,
    );
    this.send(device.hex, 'grant', bytes);
  }

  /** [P-7.2] re-send everything after `head`. */
  resync(ch: LiveChannel, head: Head, reason: ReasonCode): void {
    ch.resyncedAtSeq = head.seq;
    this.send(
      ch.deviceHex,
      'resync',
      encodeControl({ kind: 'resync', channelId: ch.id, head, reason }, this.hubSecret),
    );
  }

  /** [P-7.3] exhausted, or open again after a top-up. */
  capacity(ch: LiveChannel): void {
    const bytes = encodeControl(
      { kind: 'capacity', channelId: ch.id, capacity: ch.capacity, cumAmount: ch.durable.cumAmount, state: ch.state },
      this.hubSecret,
    );
    this.send(ch.deviceHex, 'capacity', bytes);
  }

  /** [P-7.4] only protocol codes travel; hub-only codes stay in the hub's own tables. */
  reject(ch: LiveChannel, seq: bigint, reason: string): void {
    if (!Object.hasOwn(REASONS, reason)) return;
    this.send(
      ch.deviceHex,
      'reject',
      encodeControl({ kind: 'reject', channelId: ch.id, seq, reason: reason as ReasonCode }, this.hubSecret),
    );
  }

  /** A signed receipt for the channel's head [P-5.1]; the caller publishes it after the commit. */
  receiptFor(ch: LiveChannel, head: Head): Uint8Array {
    return encodeReceipt(
      makeReceipt(
        {
          channelId: ch.id,
          seq: head.seq,
          headHash: head.hash,
          cumUnits: head.cumUnits,
          cumAmount: head.cumAmount,
          hubTimeMs: BigInt(this.now()),
        },
        this.hubSecret,
      ),
    );
  }

  publishReceipt(ch: LiveChannel, bytes: Uint8Array): void {
    this.downlink.publishReceipt(ch.deviceHex, bytes);
    this.metrics.receiptsSent.inc();
  }
}
