// Read routes the dashboard pages need on top of the API: a paged, searchable device list (a page
// never loads 10,000 devices), the live activity, a channel's history, and the hub's own check of
// a settlement bundle. Same conventions as routes.ts: decimal strings for money and units.

import { decodeReceipt, verifyBundle } from '../../protocol/index.js';
import { ApiError } from '../base/api-errors.js';
import { channelUsage } from '../model/activity.js';
import type { LiveDevice } from '../model/registry.js';
import type { RequestContext, Route } from './route.js';
import { epochParam } from './routes.js';

const ID = '([0-9a-fA-F]{8,64})';
const EPOCH = '(\\d{1,19})';
const STATUSES = ['all', 'online', 'offline', 'revoked', 'attention'] as const;
type Status = (typeof STATUSES)[number];

function intParam(q: URLSearchParams, name: string, fallback: number, max: number): number {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  if (!/^\d{1,9}$/.test(v)) throw new ApiError('API_INVALID', `${name} must be an integer 0..${max}`);
  return Math.min(Number(v), max);
}

function fleetPage(ctx: RequestContext) {
  const q = ctx.query;
  const search = (q.get('q') ?? '').trim().toLowerCase();
  if (!/^[0-9a-f]{0,64}$/.test(search))
    throw new ApiError('API_INVALID', 'q must be hex (part of a device key or channel id)');
  const status = (q.get('status') ?? 'all') as Status;
  if (!STATUSES.includes(status)) throw new ApiError('API_INVALID', `status must be one of ${STATUSES.join(', ')}`);
  const sort = q.get('sort') ?? 'enrolled';
  if (!['enrolled', 'key', 'seen'].includes(sort))
    throw new ApiError('API_INVALID', 'sort must be enrolled, key or seen');
  const offset = intParam(q, 'offset', 0, 1e9);
  const limit = Math.max(1, intParam(q, 'limit', 50, 500));
  const registry = ctx.core.fleet;
  const { activity } = ctx.dashboard;

  const keep = (d: Readonly<LiveDevice>): boolean => {
    if (status === 'online' && (!d.connected || d.revoked)) return false;
    if (status === 'offline' && (d.connected || d.revoked)) return false;
    if (status === 'revoked' && !d.revoked) return false;
    if (status === 'attention' && activity.needsAttention(d.hex).length === 0) return false;
    return search === '' || d.hex.includes(search) || d.channels.some((c) => c.includes(search));
  };
  let found = [...registry.devices.values()].filter(keep);
  if (sort === 'key') found.sort((a, b) => (a.hex < b.hex ? -1 : 1));
  if (sort === 'seen') found.sort((a, b) => (activity.seenAtMs(b.hex) ?? 0) - (activity.seenAtMs(a.hex) ?? 0));
  const total = found.length;
  found = found.slice(offset, offset + limit);
  return {
    total,
    offset,
    limit,
    devices: found.map((d) => {
      const ch = registry.currentChannel(d.hex);
      const seen = activity.seenAtMs(d.hex);
      return {
        publicKey: d.hex,
        connected: d.connected,
        revoked: d.revoked,
        lastSeenMs: seen === null ? null : String(seen),
        attention: activity.needsAttention(d.hex),
        channel: ch
          ? {
              channelId: ch.idHex,
              state: ch.state,
              unit: ch.record.unit,
              headSeq: ch.durable.seq.toString(),
              cumUnits: ch.durable.cumUnits.toString(),
              cumAmount: ch.durable.cumAmount.toString(),
              capacity: ch.capacity.toString(),
            }
          : null,
      };
    }),
  };
}

async function channelHistory(ctx: RequestContext) {
  const ch = ctx.core.findChannel(ctx.params[0]!);
  const points = intParam(ctx.query, 'points', 120, 1000);
  const receipt = ch.lastReceipt ? decodeReceipt(ch.lastReceipt) : undefined;
  const device = ctx.core.fleet.devices.get(ch.deviceHex);
  return {
    channelId: ch.idHex,
    device: device
      ? {
          publicKey: device.hex,
          connected: device.connected,
          revoked: device.revoked,
          lastSeenMs: ctx.dashboard.activity.seenAtMs(device.hex)?.toString() ?? null,
          channels: device.channels,
        }
      : null,
    attention: ctx.dashboard.activity.needsAttention(ch.deviceHex),
    usage: await channelUsage(ctx.core.ledger, ch, points),
    receipt:
      receipt && receipt.ok
        ? {
            seq: receipt.value.seq.toString(),
            cumUnits: receipt.value.cumUnits.toString(),
            cumAmount: receipt.value.cumAmount.toString(),
            hubTimeMs: receipt.value.hubTimeMs.toString(),
          }
        : null,
    settlements: await ctx.dashboard.epochs.forChannel(ch.idHex),
  };
}

/** The hub checks its own bundle exactly as a customer would offline (`tally-hub verify`). */
async function verifyEpoch(ctx: RequestContext) {
  const epoch = epochParam(ctx);
  // Through JSON text, as a downloaded file would be.
  const text = JSON.stringify(await ctx.core.bundle(epoch));
  const verdict = verifyBundle(text, { hubKey: ctx.core.identity.keyPair.publicKey });
  if (!verdict.ok) return { epoch: epoch.toString(), ok: false, reasons: verdict.reasons };
  const s = verdict.summary;
  return {
    epoch: s.epoch.toString(),
    ok: true,
    entryCount: s.entryCount,
    totalDeltaAmount: s.totalDeltaAmount.toString(),
    root: s.root,
    complete: s.complete,
    reasons: [],
  };
}

export const DASHBOARD_ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/api\/fleet$/, admin: false, handler: (ctx) => ({ json: fleetPage(ctx) }) },
  {
    method: 'GET',
    pattern: /^\/api\/activity$/,
    admin: false,
    handler: (ctx) => ({ json: { ...ctx.dashboard.activity.snapshot, series: ctx.dashboard.activity.series } }),
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/channels/${ID}/history$`),
    admin: false,
    handler: async (ctx) => ({ json: await channelHistory(ctx) }),
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/settlements/${EPOCH}/verify$`),
    admin: false,
    handler: async (ctx) => ({ json: await verifyEpoch(ctx) }),
  },
];
