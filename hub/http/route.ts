// What a route is: a method and a path pattern, whether it needs the admin token, and a handler
// from the request's context to a reply. The server (server.ts) matches requests against the
// tables of routes.ts and dashboard-routes.ts and writes the replies.

import type { HubMetrics } from '../base/metrics.js';
import type { HubCore } from '../core/hub-core.js';
import type { Activity, EpochEntryCache } from '../model/activity.js';

export interface RequestContext {
  core: HubCore;
  metrics: HubMetrics;
  params: string[];
  query: URLSearchParams;
  body: unknown;
  /** What the dashboard's read routes need besides the core. */
  dashboard: { activity: Activity; epochs: EpochEntryCache };
}

export type Reply = { status?: number; json: unknown } | { status?: number; text: string; contentType: string };

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  pattern: RegExp;
  admin: boolean;
  handler: (ctx: RequestContext) => Reply | Promise<Reply>;
}
