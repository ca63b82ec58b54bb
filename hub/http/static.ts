// Serves the operator dashboard: the files esbuild wrote to dist/dashboard/ (`npm run build`,
// which `npm install` runs). Everything the page needs comes from here: no CDN.

import { existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Where the built dashboard is: next to the bundled hub (dist/tally-hub.js -> dist/dashboard/),
 * or, running from source (tests, tsx), the repository's dist/dashboard/.
 */
export function findDashboardDir(): string | undefined {
  for (const rel of ['./dashboard/', '../../dist/dashboard/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return undefined;
}

/** Asset names the build writes: a flat directory, no path can climb out of it. */
const ASSET = /^\/assets\/([A-Za-z0-9_-]+(?:\.[A-Za-z0-9]+)+)$/;

/** Each file read and gzipped once, again only when the build rewrites it. */
const cache = new Map<string, { mtimeMs: number; raw: Buffer; gzip: Buffer }>();

function load(path: string): { raw: Buffer; gzip: Buffer } {
  const mtimeMs = statSync(path).mtimeMs;
  const hit = cache.get(path);
  if (hit && hit.mtimeMs === mtimeMs) return hit;
  const raw = readFileSync(path);
  const entry = { mtimeMs, raw, gzip: gzipSync(raw, { level: 9 }) };
  cache.set(path, entry);
  return entry;
}

/** Answers `/` and `/assets/*`; returns false for any other path. */
export function serveDashboard(
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  dir: string | undefined,
): boolean {
  const asset = ASSET.exec(path)?.[1];
  const file =
    path === '/' || path === '/index.html' ? 'index.html' : asset === undefined ? undefined : `assets/${asset}`;
  if (file === undefined) return false;
  if (dir === undefined) {
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('The dashboard is not built: run `npm run build`.\n');
    return true;
  }
  let body: { raw: Buffer; gzip: Buffer };
  try {
    body = load(`${dir}${file}`);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
    return true;
  }
  const ext = file.slice(file.lastIndexOf('.'));
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const bytes = gzip ? body.gzip : body.raw;
  res.writeHead(200, {
    'content-type': TYPES[ext] ?? 'application/octet-stream',
    // Asset names are fixed and rebuilt in place, so the browser revalidates each load.
    'cache-control': 'no-cache',
    'content-length': bytes.length,
    vary: 'accept-encoding',
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
  });
  res.end(bytes);
  return true;
}
