// The webhook routes of the HTTP API (docs/api.md, docs/webhooks.md): subscriptions (admin: their
// URLs may carry a receiver's own secret), deliveries and dead letters (read open, retry admin),
// and a channel's low-capacity threshold.

import { ApiError } from '../base/api-errors.js';
import { parseSubscriptionBody } from '../core/webhook-admin.js';
import type { Route } from './route.js';

const NUM = '(\\d{1,18})';
const ID = '([0-9a-fA-F]{8,64})';

export const WEBHOOK_ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: /^\/api\/webhooks$/,
    admin: true,
    handler: async (ctx) => ({ json: { subscriptions: await ctx.core.webhooks.list() } }),
  },
  {
    method: 'POST',
    pattern: /^\/api\/webhooks$/,
    admin: true,
    handler: async (ctx) => ({ status: 201, json: await ctx.core.webhooks.add(parseSubscriptionBody(ctx.body)) }),
  },
  {
    method: 'DELETE',
    pattern: new RegExp(`^/api/webhooks/${NUM}$`),
    admin: true,
    handler: async (ctx) => ({ json: await ctx.core.webhooks.remove(ctx.params[0]!) }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/webhooks\/deliveries$/,
    admin: false,
    handler: async (ctx) => {
      const q = ctx.query;
      const limit = q.get('limit');
      if (limit !== null && !/^\d{1,5}$/.test(limit)) throw new ApiError('API_INVALID', 'limit must be 1..10000');
      return {
        json: await ctx.core.webhooks.deliveries({
          ...(limit ? { limit: Number(limit) } : {}),
          ...(q.get('state') ? { state: q.get('state')! } : {}),
          ...(q.get('event') ? { eventId: q.get('event')! } : {}),
        }),
      };
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/webhooks/deliveries/${NUM}/retry$`),
    admin: true,
    handler: async (ctx) => {
      const view = await ctx.core.webhooks.retry(ctx.params[0]!);
      ctx.core.onWebhookEvents();
      return { json: view };
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/channels/${ID}/low-capacity$`),
    admin: false,
    handler: (ctx) => ({ json: ctx.core.lowCapacityView(ctx.params[0]!) }),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/channels/${ID}/low-capacity$`),
    admin: true,
    handler: async (ctx) => {
      const v = (ctx.body as { lowCapacity?: unknown } | undefined)?.lowCapacity;
      if (v !== null && typeof v !== 'string')
        throw new ApiError('API_INVALID', 'lowCapacity is "5000", "10%", "off" or null (the default)');
      return { json: await ctx.core.setLowCapacity(ctx.params[0]!, v) };
    },
  },
];
