// Which webhook events a state change causes, for the code that makes the change: the group
// commit asks `commitEvents` per channel it writes, the management operations and the epoch close
// build theirs from model/webhook-events.ts with `source`. Holds the low-capacity thresholds (the
// hub's default and each channel's own) and the offline watch.

import type { Head } from '../../protocol/index.js';
import type { OutboxEvent } from '../store/outbox-types.js';
import { crossesLow, thresholdAmount, type Threshold } from './low-capacity.js';
import { OfflineWatch } from './offline-watch.js';
import type { LiveChannel } from './registry.js';
import { channelEvents, type ChannelFacts, type EventSource } from './webhook-events.js';

export class WebhookAlerts {
  /** Channels with a threshold of their own, by id hex. */
  readonly thresholds = new Map<string, Threshold>();
  readonly offline: OfflineWatch;

  constructor(
    readonly source: EventSource,
    readonly defaultLowCapacity: Threshold,
    offlineAfterMs: number,
  ) {
    this.offline = new OfflineWatch(offlineAfterMs);
  }

  thresholdOf(ch: Pick<LiveChannel, 'idHex'>): Threshold {
    return this.thresholds.get(ch.idHex) ?? this.defaultLowCapacity;
  }

  /**
   * The events of one channel's head move in a group commit: low capacity when the commit crosses
   * the threshold, exhausted when the commit writes the state that says so. Both may come from
   * one commit (low first).
   */
  commitEvents(ch: LiveChannel, before: Head, after: Head, exhaustedNow: boolean, atMs: bigint): OutboxEvent[] {
    const facts = channelFacts(ch, after);
    const out: OutboxEvent[] = [];
    const threshold = thresholdAmount(this.thresholdOf(ch), ch.capacity);
    if (crossesLow(threshold, ch.capacity, before.cumAmount, after.cumAmount))
      out.push(channelEvents.lowCapacity(this.source, facts, threshold, atMs));
    if (exhaustedNow) out.push(channelEvents.exhausted(this.source, facts, atMs));
    return out;
  }
}

export function channelFacts(ch: LiveChannel, head: Head = ch.durable): ChannelFacts {
  return {
    id: ch.id,
    deviceKey: ch.deviceKey,
    unit: ch.record.unit,
    pricePerUnit: ch.pricePerUnit,
    capacity: ch.capacity,
    head,
  };
}
