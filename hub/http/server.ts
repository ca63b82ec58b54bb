// The HTTP API on node:http (or node:https): a small router over HubCore. Every POST needs
// `Authorization: Bearer <admin token>`. Reads are open on a loopback listener; beyond loopback,
// or once a read token is set, they need the read token or the admin token (the dashboard's
// files themselves hold no data and stay open; so does /healthz, for probes). Each source address
// gets a request rate and a cap on requests in progress (the broker's admission, guard.ts).
// docs/api.md documents each route and error code.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { ApiError, errorBody } from '../base/api-errors.js';
import { ConnectAdmission } from '../broker/guard.js';
import type { HostPort } from '../base/config.js';
import { Activity, EpochEntryCache } from '../model/activity.js';
import type { HubCore } from '../core/hub-core.js';
import { API_REFUSALS, type HubMetrics } from '../base/metrics.js';
import type { HubLog } from '../base/log-codes.js';
import { DASHBOARD_ROUTES } from './dashboard-routes.js';
import { hostAllowed } from './host.js';
import { LiveStreams, liveTick } from './live.js';
import type { Reply, Route } from './route.js';
import { ROUTES } from './routes.js';
import { findDashboardDir, serveDashboard } from './static.js';

export interface HttpServer {
  readonly address: HostPort;
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024 * 1024;

const ALL_ROUTES: Route[] = [...ROUTES, ...DASHBOARD_ROUTES];

function tokenMatches(header: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return false;
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7).trim() : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ApiError('API_BODY_TOO_LARGE');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new ApiError('API_BAD_JSON');
  }
}

const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';

/** Responses over this size are gzipped for clients that accept it (the dashboard's lists). */
const GZIP_MIN = 1024;

function send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  const status = reply.status ?? 200;
  const contentType = 'json' in reply ? 'application/json; charset=utf-8' : reply.contentType;
  let body = Buffer.from('json' in reply ? json(reply.json) : reply.text);
  const headers: Record<string, string | number> = { 'content-type': contentType };
  if (body.length > GZIP_MIN && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    body = gzipSync(body);
    headers['content-encoding'] = 'gzip';
    headers.vary = 'accept-encoding';
  }
  headers['content-length'] = body.length;
  res.writeHead(status, headers);
  res.end(body);
}

function decodeParam(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw new ApiError('API_INVALID', 'malformed percent-encoding in the path');
  }
}

/** The path of an origin-form request target (`/path?query`); anything else is a client error. */
function requestUrl(target: string | undefined): URL {
  // Absolute-form (`http://host/...`) is for proxies, asterisk-form for OPTIONS *: the hub is
  // neither, and `//name` is not a path.
  if (target === undefined || !target.startsWith('/') || target.startsWith('//')) {
    throw new ApiError('API_INVALID', 'the request target must be a path');
  }
  try {
    return new URL(target, 'http://hub');
  } catch {
    throw new ApiError('API_INVALID', 'malformed request target');
  }
}

/** Unexpected errors are logged one line each, with the stack at most once a minute: a request
 *  that keeps hitting a bug must not flood the log. */
function errorLogger(log: HubLog) {
  let stackAtMs = -Infinity;
  return (req: IncomingMessage, err: unknown) => {
    const now = Date.now();
    const withStack = now - stackAtMs >= 60_000;
    if (withStack) stackAtMs = now;
    if (!log.enabled('error')) return;
    const e = err as Error;
    log.event('HTTP_INTERNAL', {
      method: req.method,
      path: (req.url ?? '').slice(0, 200),
      error: e.message ?? String(err),
      ...(withStack ? { stack: e.stack } : {}),
    });
  };
}

function match(method: string, path: string): { route: Route; params: string[] } | 'method' | undefined {
  let pathMatched = false;
  for (const route of ALL_ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (route.method === method) return { route, params: m.slice(1).map(decodeParam) };
  }
  return pathMatched ? 'method' : undefined;
}

export async function startHttp(args: {
  core: HubCore;
  metrics: HubMetrics;
  listen: HostPort;
  adminToken: string;
  /** Reads need a token (the read token or the admin token): HubConfig.httpReadToken says when. */
  readsNeedToken?: boolean;
  readToken?: string;
  /** Per source address: requests per second (bursts of ten seconds' worth; 0 = no rate) and
   *  requests in progress. */
  rate?: { requestsPerSecond: number; maxPendingPerAddress: number };
  /** HTTPS: certificate and key (PEM text). */
  tls?: { cert: string; key: string };
  /** Dashboard live streams open at once (default 100). */
  maxLiveStreams?: number;
  /** Host names answered besides IP addresses, localhost and the listen address. */
  allowedHosts?: readonly string[];
  log: HubLog;
  /** The listening socket failed after it opened (EMFILE or ENFILE on accept, most likely). */
  onServerError?: (err: Error) => void;
}): Promise<HttpServer> {
  const dashboardDir = findDashboardDir();
  const dashboard = {
    activity: await Activity.create(args.core.fleet, args.core.ledger, args.metrics, args.core.now),
    epochs: new EpochEntryCache(args.core.ledger),
  };
  const live = new LiveStreams(args.maxLiveStreams ?? 100);
  const allowedHosts = args.allowedHosts ?? [];
  const logError = errorLogger(args.log);

  const rate = args.rate ?? { requestsPerSecond: 0, maxPendingPerAddress: 1_000_000 };
  const admission = new ConnectAdmission({
    maxPending: Number.MAX_SAFE_INTEGER,
    maxPendingPerAddress: rate.maxPendingPerAddress,
    connectsPerSecond: rate.requestsPerSecond,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse, settle: () => void): Promise<void> => {
    const url = requestUrl(req.url);
    if (!hostAllowed(req.headers.host, args.listen.host, allowedHosts)) throw new ApiError('API_HOST_DENIED');
    if (req.method === 'GET' && serveDashboard(url.pathname, req, res, dashboardDir)) return;
    const admin = tokenMatches(req.headers.authorization, args.adminToken);
    if (
      args.readsNeedToken &&
      url.pathname !== '/healthz' &&
      !admin &&
      !tokenMatches(req.headers.authorization, args.readToken)
    ) {
      throw new ApiError('API_UNAUTHORIZED');
    }
    if (req.method === 'GET' && url.pathname === '/api/live') {
      if (live.full) throw new ApiError('API_BUSY');
      settle(); // a stream stays open: it is capped by --max-live-streams, not as a request in progress
      return live.open(res, args.core, dashboard.activity);
    }
    const found = match(req.method ?? 'GET', url.pathname);
    if (found === undefined) throw new ApiError('API_NOT_FOUND', `no route ${url.pathname}`);
    if (found === 'method') throw new ApiError('API_METHOD', `${req.method} not allowed on ${url.pathname}`);
    if (found.route.admin && !admin) throw new ApiError('API_UNAUTHORIZED');
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    send(
      req,
      res,
      await found.route.handler({
        core: args.core,
        metrics: args.metrics,
        params: found.params,
        query: url.searchParams,
        body,
        dashboard,
      }),
    );
  };
  const refused = new Set<string>(API_REFUSALS);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const admitted = admission.admit(req.socket.remoteAddress ?? 'unknown');
    const settle = admitted.ok ? admitted.settle : () => undefined;
    res.once('close', settle);
    (admitted.ok ? handle(req, res, settle) : Promise.reject(new ApiError('API_RATE_LIMITED'))).catch(
      (err: unknown) => {
        // A client's mistake (ApiError) is answered, not logged.
        const e = err instanceof ApiError ? err : new ApiError('API_INTERNAL');
        if (!(err instanceof ApiError)) logError(req, err);
        if (refused.has(e.code)) args.metrics.apiRefusals.inc({ code: e.code });
        if (res.headersSent) return res.destroy();
        send(req, res, { status: e.status, json: errorBody(e) });
      },
    );
  };
  const server: Server = args.tls
    ? createHttpsServer({ cert: args.tls.cert, key: args.tls.key, minVersion: 'TLSv1.2' }, onRequest)
    : createServer(onRequest);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(args.listen.port, args.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Without a listener, an accept error after listen() (EMFILE) would be thrown and end the hub.
  server.on('error', (err) =>
    args.onServerError ? args.onServerError(err) : args.log.event('SERVER_ERROR', { where: 'http', err }),
  );
  // One sample a second feeds the rate chart and every open live stream (started once listening,
  // so a failed start leaves no timer behind).
  let sampling = false;
  const sampler = setInterval(() => {
    if (sampling) return; // a slow store: skip a tick rather than pile samples up
    sampling = true;
    (async () => {
      await dashboard.activity.sample();
      if (live.size > 0) live.broadcast(await liveTick(args.core, dashboard.activity));
    })()
      .catch((err: unknown) => args.log.event('DASHBOARD_SAMPLE_FAILED', { err }))
      .finally(() => (sampling = false));
  }, 1000);
  sampler.unref();
  const a = server.address() as AddressInfo;
  const host = a.address.includes(':') ? `[${a.address}]` : a.address;
  return {
    address: { host: a.address, port: a.port },
    url: `${args.tls ? 'https' : 'http'}://${host}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(sampler);
        live.closeAll();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
