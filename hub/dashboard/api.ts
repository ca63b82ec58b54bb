/// <reference lib="dom" />
// Calls to the hub's HTTP API from the page. The token (the read token, or the admin token for
// changes) lives in sessionStorage only: it is gone when the tab closes. It goes with every
// request as a bearer header: a hub beyond loopback answers reads only with a token. A 401 tells
// the page to ask for one (main.ts).

const TOKEN_KEY = 'tally-admin-token';

export class ApiFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export function adminToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setAdminToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Every request's headers: the token, if one is set for this tab. */
export function authHeaders(): Record<string, string> {
  const token = adminToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Raised on window when the hub refused a request for want of a (right) token. */
export const UNAUTHORIZED_EVENT = 'tally-unauthorized';

async function parse<T>(res: Response): Promise<T> {
  if (res.status === 401) window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
  const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  if (!res.ok)
    throw new ApiFailure(body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? res.statusText, res.status);
  return body as T;
}

export async function getJson<T>(path: string): Promise<T> {
  return parse<T>(await fetch(path, { headers: { accept: 'application/json', ...authHeaders() } }));
}

/** An admin POST; without a token it is still sent, so the hub's refusal is what the page shows. */
export async function postJson<T>(path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...authHeaders() };
  return parse<T>(await fetch(path, { method: 'POST', headers, body: body === undefined ? '' : JSON.stringify(body) }));
}

/**
 * A download link's click: with a token set, the file is fetched with it (a plain link cannot send
 * a header) and saved under the link's download name; without one the link works as it is.
 */
export function downloadWithToken(e: MouseEvent): void {
  const link = e.currentTarget as HTMLAnchorElement;
  if (!adminToken()) return;
  e.preventDefault();
  void fetch(link.href, { headers: authHeaders() }).then(async (res) => {
    if (res.status === 401) window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
    if (!res.ok) return;
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = link.download;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
}

export const describeError = (err: unknown): string =>
  err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err);
