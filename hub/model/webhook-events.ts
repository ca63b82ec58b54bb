// Webhook events (docs/webhooks.md): their types, their stable ids and their JSON bodies. Every
// event is built here, by whichever transaction causes it; the outbox stores the body exactly as it
// will be sent. Amounts are decimal strings of integer minor units, never JSON numbers.

import { createHash } from 'node:crypto';
import { toHex } from '../../protocol/index.js';
import type { OutboxEvent } from '../store/outbox-types.js';
import { WEBHOOK_EVENT_TYPES } from '../base/webhook-config.js';

export const EVENT_TYPES = WEBHOOK_EVENT_TYPES;

export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (t: string): t is EventType => (EVENT_TYPES as readonly string[]).includes(t);

/** Who the events come from: the hub key and network are in every body and in every id. */
export interface EventSource {
  hubKeyHex: string;
  network: string;
}

/**
 * The event id: a hash of the hub, the type and what identifies the cause (a channel and the
 * capacity it crossed at, an epoch number...). The same cause always gives the same id, so a
 * receiver can deduplicate on it (the `webhook-id` header) and the outbox keeps a cause once even
 * if the hub meets it again after a restart.
 */
export function eventId(source: EventSource, type: EventType, ...cause: (string | bigint)[]): string {
  const h = createHash('sha256').update([source.hubKeyHex, type, ...cause.map(String)].join('\n'));
  return `evt_${h.digest('hex').slice(0, 32)}`;
}

function build(
  source: EventSource,
  type: EventType,
  atMs: bigint,
  cause: (string | bigint)[],
  data: Record<string, unknown>,
): OutboxEvent {
  const id = eventId(source, type, ...cause);
  const body = {
    id,
    type,
    timestamp: new Date(Number(atMs)).toISOString(),
    hub: { publicKey: source.hubKeyHex, network: source.network },
    data,
  };
  return { id, type, payload: JSON.stringify(body), createdAtMs: atMs };
}

/** What the channel events say about a channel. */
export interface ChannelFacts {
  id: Uint8Array;
  deviceKey: Uint8Array;
  unit: string;
  pricePerUnit: bigint;
  capacity: bigint;
  /** The committed head. */
  head: { seq: bigint; cumUnits: bigint; cumAmount: bigint };
}

function channelData(ch: ChannelFacts): Record<string, string> {
  return {
    channelId: toHex(ch.id),
    devicePublicKey: toHex(ch.deviceKey),
    unit: ch.unit,
    pricePerUnit: ch.pricePerUnit.toString(),
    capacity: ch.capacity.toString(),
    cumUnits: ch.head.cumUnits.toString(),
    cumAmount: ch.head.cumAmount.toString(),
    remaining: (ch.capacity - ch.head.cumAmount).toString(),
    headSeq: ch.head.seq.toString(),
  };
}

export const channelEvents = {
  /** Remaining capacity fell to the threshold or below: once per capacity (a top-up re-arms it). */
  lowCapacity: (src: EventSource, ch: ChannelFacts, threshold: bigint, atMs: bigint) =>
    build(src, 'channel.low_capacity', atMs, [toHex(ch.id), ch.capacity], {
      ...channelData(ch),
      threshold: threshold.toString(),
    }),
  /** No further unit fits [P-7.3]: once per capacity. */
  exhausted: (src: EventSource, ch: ChannelFacts, atMs: bigint) =>
    build(src, 'channel.exhausted', atMs, [toHex(ch.id), ch.capacity], channelData(ch)),
  /** Capacity only grows, so the new capacity names the top-up. */
  toppedUp: (
    src: EventSource,
    ch: ChannelFacts,
    amount: bigint,
    previousCapacity: bigint,
    state: string,
    atMs: bigint,
  ) =>
    build(src, 'channel.topped_up', atMs, [toHex(ch.id), ch.capacity], {
      ...channelData(ch),
      amount: amount.toString(),
      previousCapacity: previousCapacity.toString(),
      state,
    }),
  closed: (src: EventSource, ch: ChannelFacts, atMs: bigint) =>
    build(src, 'channel.closed', atMs, [toHex(ch.id)], channelData(ch)),
};

export const epochSettled = (
  src: EventSource,
  e: { epoch: bigint; root: Uint8Array; entryCount: number; totalDeltaAmount: bigint; closedAtMs: bigint },
  channels: { channelId: Uint8Array; deltaAmount: bigint; toSeq: bigint }[],
) =>
  build(src, 'epoch.settled', e.closedAtMs, [e.epoch], {
    epoch: e.epoch.toString(),
    root: toHex(e.root),
    entryCount: e.entryCount,
    totalDeltaAmount: e.totalDeltaAmount.toString(),
    closedAt: new Date(Number(e.closedAtMs)).toISOString(),
    channels: channels.map((c) => ({
      channelId: toHex(c.channelId),
      deltaAmount: c.deltaAmount.toString(),
      toSeq: c.toSeq.toString(),
    })),
  });

export const deviceEvents = {
  /** Two different signed vouchers for one seq: the evidence row's identity names it. */
  equivocation: (
    src: EventSource,
    e: { deviceKey: Uint8Array; channelId: Uint8Array; seq: bigint; storedHash: Uint8Array; segment: Uint8Array },
    atMs: bigint,
  ) =>
    build(
      src,
      'device.equivocation',
      atMs,
      [toHex(e.channelId), e.seq, createHash('sha256').update(e.segment).digest('hex')],
      {
        devicePublicKey: toHex(e.deviceKey),
        channelId: toHex(e.channelId),
        seq: e.seq.toString(),
        storedHash: toHex(e.storedHash),
      },
    ),
  /** Disconnected at `disconnectedAtMs` and not back `offlineAfterMs` later. */
  offline: (src: EventSource, deviceKey: Uint8Array, disconnectedAtMs: bigint, offlineAfterMs: number, atMs: bigint) =>
    build(src, 'device.offline', atMs, [toHex(deviceKey), disconnectedAtMs], {
      devicePublicKey: toHex(deviceKey),
      disconnectedAt: new Date(Number(disconnectedAtMs)).toISOString(),
      offlineAfterMs: String(offlineAfterMs),
    }),
  revoked: (src: EventSource, deviceKey: Uint8Array, channelIds: Uint8Array[], atMs: bigint) =>
    build(src, 'device.revoked', atMs, [toHex(deviceKey)], {
      devicePublicKey: toHex(deviceKey),
      channels: channelIds.map(toHex),
    }),
};
