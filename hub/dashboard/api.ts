/// <reference lib="dom" />
// Calls to the hub's HTTP API from the page. The admin token lives in sessionStorage only: it is
// gone when the tab closes, and it is sent only on POSTs (every read is open).

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

async function parse<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  if (!res.ok)
    throw new ApiFailure(body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? res.statusText, res.status);
  return body as T;
}

export async function getJson<T>(path: string): Promise<T> {
  return parse<T>(await fetch(path, { headers: { accept: 'application/json' } }));
}

/** An admin POST; without a token it is still sent, so the hub's refusal is what the page shows. */
export async function postJson<T>(path: string, body?: unknown): Promise<T> {
  const token = adminToken();
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return parse<T>(await fetch(path, { method: 'POST', headers, body: body === undefined ? '' : JSON.stringify(body) }));
}

export const describeError = (err: unknown): string =>
  err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err);
