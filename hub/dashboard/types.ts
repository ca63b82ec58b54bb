// JSON shapes the hub sends (docs/api.md). Money, units and seqs are decimal strings.
// The live tick's activity part is the hub's own type (type-only: nothing of it is bundled).

import type { ActivitySnapshot, RatePoint } from '../model/activity.js';
import type { FleetTotals } from '../model/fleet-totals.js';

export type { RatePoint };

/** Where the page is: #/<page>/<arg>?<query>. */
export interface Route {
  page: string;
  arg: string;
  query: URLSearchParams;
}

export interface Stats extends FleetTotals {
  rejectedEvents: string;
  rejectedVouchers: string;
  equivocations: number;
  waitingSegments: number;
  lastEpoch: string | null;
}

export interface RejectionCount {
  reason: string;
  message: string;
  events: string;
  vouchers: string;
}

export interface Tick extends ActivitySnapshot {
  stats: Stats;
  rejections: RejectionCount[];
}

export interface FleetRow {
  publicKey: string;
  connected: boolean;
  revoked: boolean;
  lastSeenMs: string | null;
  attention: string[];
  channel: {
    channelId: string;
    state: string;
    unit: string;
    headSeq: string;
    cumUnits: string;
    cumAmount: string;
    capacity: string;
  } | null;
}

export interface FleetPage {
  total: number;
  offset: number;
  limit: number;
  devices: FleetRow[];
}

export interface Head {
  seq: string;
  hash: string;
  cumUnits: string;
  cumAmount: string;
}

export interface Channel {
  channelId: string;
  devicePublicKey: string;
  recordVersion: number;
  unit: string;
  currency: string | null;
  exponent: number | null;
  pricePerUnit: string;
  capacity: string;
  remaining: string;
  openedAtMs: string;
  expiresAtMs: string;
  state: string;
  head: Head;
  settled: Head;
  unsettledAmount: string;
  lastReceipt: string | null;
  equivocated: boolean;
  waitingSegments: number;
  segments: number;
  /** Exact amounts for reading ("0.000300 EUR"; "300 minor units" on a version-1 channel). */
  money: {
    pricePerUnit: string;
    capacity: string;
    remaining: string;
    headAmount: string;
    settledAmount: string;
    unsettledAmount: string;
  };
}

export interface ChannelHistory {
  channelId: string;
  device: {
    publicKey: string;
    connected: boolean;
    revoked: boolean;
    lastSeenMs: string | null;
    channels: string[];
  } | null;
  attention: string[];
  usage: { atMs: string; seq: string; cumUnits: string; cumAmount: string }[];
  receipt: { seq: string; cumUnits: string; cumAmount: string; hubTimeMs: string } | null;
  settlements: {
    epoch: string;
    closedAtMs: string;
    fromSeq: string;
    toSeq: string;
    deltaUnits: string;
    deltaAmount: string;
    cumAmount: string;
  }[];
}

export interface Rejection {
  id: string;
  atMs: string;
  stage: string;
  reason: string;
  deviceKey: string | null;
  channelId: string | null;
  seq: string | null;
  vouchers: number;
  detail: string | null;
}

export interface Epoch {
  epoch: string;
  closedAtMs: string;
  entryCount: number;
  totalDeltaAmount: string;
  root: string;
}

export interface Verdict {
  epoch: string;
  ok: boolean;
  entryCount?: number;
  totalDeltaAmount?: string;
  root?: string;
  complete?: boolean;
  reasons: { code: string; detail: string }[];
}
