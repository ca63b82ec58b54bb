// JSON shapes of devices, channels, epochs and rejections, shared by the HTTP API and the CLI.
// Money, units and seqs are decimal strings (bigint end to end; JSON numbers would round them).

import {
  channelRecordVersion,
  denominationOf,
  formatMoney,
  REASONS,
  toHex,
  type Denomination,
  type Head,
} from '../../protocol/index.js';
import { HUB_REASONS } from '../base/reasons.js';
import type { EpochRow, RejectionCount, RejectionRow } from '../store/types.js';
import type { LiveChannel, LiveDevice } from './registry.js';

export const headView = (h: Head) => ({
  seq: h.seq.toString(),
  hash: toHex(h.hash),
  cumUnits: h.cumUnits.toString(),
  cumAmount: h.cumAmount.toString(),
});

/**
 * The channel's amounts as a person reads them ("0.000300 EUR"), exact [P-1.2]; beside, not instead
 * of, the minor-unit integers that scripts use.
 */
function moneyView(ch: LiveChannel, terms: Denomination | undefined) {
  const f = (minor: bigint) => formatMoney(minor, terms);
  return {
    pricePerUnit: f(ch.pricePerUnit),
    capacity: f(ch.capacity),
    remaining: f(ch.capacity - ch.durable.cumAmount),
    headAmount: f(ch.durable.cumAmount),
    settledAmount: f(ch.settled.cumAmount),
    unsettledAmount: f(ch.durable.cumAmount - ch.settled.cumAmount),
  };
}

export function channelView(ch: LiveChannel) {
  const terms = denominationOf(ch.record);
  return {
    channelId: ch.idHex,
    devicePublicKey: ch.deviceHex,
    network: ch.record.network,
    recordVersion: channelRecordVersion(ch.record),
    unit: ch.record.unit,
    /** null on a version-1 channel: its minor unit has no stated currency. */
    currency: terms?.currency ?? null,
    exponent: terms?.exponent ?? null,
    pricePerUnit: ch.pricePerUnit.toString(),
    capacity: ch.capacity.toString(),
    /** What the device may still spend: capacity minus the committed cumulative amount. */
    remaining: (ch.capacity - ch.durable.cumAmount).toString(),
    openedAtMs: ch.record.openedAtMs.toString(),
    expiresAtMs: ch.expiresAtMs.toString(),
    state: ch.state,
    head: headView(ch.durable),
    settled: headView(ch.settled),
    unsettledAmount: (ch.durable.cumAmount - ch.settled.cumAmount).toString(),
    lastReceipt: ch.lastReceipt ? toHex(ch.lastReceipt) : null,
    equivocated: ch.equivocated,
    waitingSegments: ch.waiting.length,
    money: moneyView(ch, terms),
    record: toHex(ch.recordBytes),
  };
}

export function deviceView(d: LiveDevice, current: LiveChannel | undefined) {
  return {
    publicKey: d.hex,
    enrolledAtMs: d.enrolledAtMs.toString(),
    revoked: d.revoked,
    connected: d.connected,
    channelId: current?.idHex ?? null,
    channels: d.channels,
  };
}

export function epochView(e: EpochRow) {
  return {
    epoch: e.epoch.toString(),
    closedAtMs: e.closedAtMs.toString(),
    entryCount: e.entryCount,
    totalDeltaAmount: e.totalDeltaAmount.toString(),
    root: toHex(e.root),
    record: toHex(e.record),
    signature: toHex(e.signature),
  };
}

export function reasonMessage(reason: string): string {
  if (Object.hasOwn(REASONS, reason)) return REASONS[reason as keyof typeof REASONS].message;
  if (Object.hasOwn(HUB_REASONS, reason)) return HUB_REASONS[reason as keyof typeof HUB_REASONS].message;
  return '';
}

export function rejectionCountView(c: RejectionCount) {
  return {
    reason: c.reason,
    message: reasonMessage(c.reason),
    events: c.events.toString(),
    vouchers: c.vouchers.toString(),
  };
}

export function rejectionView(r: RejectionRow & { id: bigint }) {
  return {
    id: r.id.toString(),
    atMs: r.atMs.toString(),
    stage: r.stage,
    reason: r.reason,
    deviceKey: r.deviceKey ? toHex(r.deviceKey) : null,
    channelId: r.channelId ? toHex(r.channelId) : null,
    seq: r.seq === null ? null : r.seq.toString(),
    vouchers: r.vouchers,
    detail: r.detail,
  };
}
