// The HTTP API on node:http: a small router over HubCore. Reads are open (bind to localhost or
// put a proxy in front); every POST needs `Authorization: Bearer <admin token>`.
// docs/api.md documents each route and error code.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { API_ERRORS, ApiError } from '../admin-errors.js';
import type { HostPort } from '../config.js';
import type { HubCore } from '../core/hub-core.js';
import type { HubMetrics } from '../metrics.js';
import { ROUTES, type Route } from './routes.js';

export interface HttpServer {
  readonly address: HostPort;
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024 * 1024;

export interface RequestContext {
  core: HubCore;
  metrics: HubMetrics;
  params: string[];
  query: URLSearchParams;
  body: unknown;
}

export type Reply = { status?: number; json: unknown } | { status?: number; text: string; contentType: string };

function tokenMatches(header: string | undefined, token: string): boolean {
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

function send(res: ServerResponse, reply: Reply): void {
  const status = reply.status ?? 200;
  if ('json' in reply) {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(json(reply.json));
  } else {
    res.writeHead(status, { 'content-type': reply.contentType });
    res.end(reply.text);
  }
}

function match(method: string, path: string): { route: Route; params: string[] } | 'method' | undefined {
  let pathMatched = false;
  for (const route of ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (route.method === method) return { route, params: m.slice(1).map((p) => decodeURIComponent(p)) };
  }
  return pathMatched ? 'method' : undefined;
}

export async function startHttp(args: {
  core: HubCore;
  metrics: HubMetrics;
  listen: HostPort;
  adminToken: string;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
}): Promise<HttpServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://hub');
    const found = match(req.method ?? 'GET', url.pathname);
    if (found === undefined) throw new ApiError('API_NOT_FOUND', `no route ${url.pathname}`);
    if (found === 'method') throw new ApiError('API_METHOD', `${req.method} not allowed on ${url.pathname}`);
    if (found.route.admin && !tokenMatches(req.headers.authorization, args.adminToken)) throw new ApiError('API_UNAUTHORIZED');
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    send(res, await found.route.handler({ core: args.core, metrics: args.metrics, params: found.params, query: url.searchParams, body }));
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof ApiError ? err : new ApiError('API_INTERNAL');
      if (!(err instanceof ApiError)) args.log('error', `http ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      if (res.headersSent) return res.destroy();
      send(res, { status: e.status, json: { error: { code: e.code, message: e.detail ?? API_ERRORS[e.code].message } } });
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(args.listen.port, args.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const host = a.address.includes(':') ? `[${a.address}]` : a.address;
  return {
    address: { host: a.address, port: a.port },
    url: `http://${host}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
