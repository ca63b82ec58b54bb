// The simulator talks to a hub only through its public HTTP API (docs/api.md), the same way for
// an embedded hub and a remote one: enrolment, channel totals, settlement, bundles, rejections.

import { request as httpsRequest } from 'node:https';

export interface EnrolRequest {
  publicKey: string;
  unit: string;
  pricePerUnit: string;
  capacity: string;
}

export interface ChannelView {
  channelId: string;
  devicePublicKey: string;
  unit: string;
  pricePerUnit: string;
  state: string;
  head: { seq: string; cumUnits: string; cumAmount: string };
  settled: { seq: string; cumUnits: string; cumAmount: string };
}

export interface EpochView {
  epoch: string;
  entryCount: number;
  totalDeltaAmount: string;
}

export class HubApiError extends Error {
  override readonly name = 'HubApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** Enrolment goes out in batches of this many devices: one request stays small. */
const ENROL_BATCH = 2_000;

/** A response as far as the client reads it: fetch's, or one from node:https with a private CA. */
interface Answer {
  ok: boolean;
  status: number;
  text(): Promise<string>;
}

/** fetch() cannot take a CA; an https API with a site CA (`tally-hub tls init`) goes through node:https. */
function requestWithCa(url: URL, init: { method: string; headers: Record<string, string>; body?: string }, ca: string) {
  return new Promise<Answer>((resolve, reject) => {
    const req = httpsRequest(url, { method: init.method, headers: init.headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ ok: status >= 200 && status < 300, status, text: async () => text });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export class HubApi {
  constructor(
    readonly baseUrl: string,
    private readonly adminToken: string | undefined,
    /** CA certificate (PEM) of an https:// API. */
    private readonly tlsCa?: string,
  ) {}

  hub(): Promise<{ publicKey: string; network: string }> {
    return this.request('GET', '/api/hub');
  }

  stats(): Promise<Record<string, unknown>> {
    return this.request('GET', '/api/stats');
  }

  /** Enrols in batches; `requests(from, to)` makes each batch just before it is sent, so that
   *  deriving 10,000 keys never blocks the event loop for long in one go. */
  async enrol(count: number, requests: (from: number, to: number) => EnrolRequest[]): Promise<number> {
    let done = 0;
    for (let from = 0; from < count; from += ENROL_BATCH) {
      const batch = requests(from, Math.min(count, from + ENROL_BATCH));
      const res = await this.request<{ enrolled: unknown[] }>('POST', '/api/devices', { devices: batch });
      done += res.enrolled.length;
    }
    return done;
  }

  async channels(): Promise<ChannelView[]> {
    return (await this.request<{ channels: ChannelView[] }>('GET', '/api/channels')).channels;
  }

  settle(): Promise<EpochView> {
    return this.request('POST', '/api/settlements');
  }

  async epochs(): Promise<EpochView[]> {
    return (await this.request<{ epochs: EpochView[] }>('GET', '/api/settlements')).epochs;
  }

  bundle(epoch: string): Promise<unknown> {
    return this.request('GET', `/api/settlements/${epoch}/bundle`);
  }

  async rejectionCounts(): Promise<Record<string, number>> {
    const res = await this.request<{ counts: Array<{ reason: string; events: string }> }>(
      'GET',
      '/api/rejections?limit=1',
    );
    return Object.fromEntries(res.counts.map((c) => [c.reason, Number(c.events)]));
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    try {
      return await this.requestOnce<T>(method, path, body);
    } catch (err) {
      // A GET is safe to repeat: a kept-alive connection the server closed while it sat idle
      // is reset on reuse, and the second attempt gets a fresh one. A POST is never repeated.
      if (method === 'GET' && err instanceof HubApiError && err.status === 0)
        return this.requestOnce<T>(method, path, body);
      throw err;
    }
  }

  private async requestOnce<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    // Every route, reads too: a hub listening beyond loopback wants a token for them.
    if (this.adminToken) headers.authorization = `Bearer ${this.adminToken}`;
    let res: Answer;
    try {
      const url = new URL(path, this.baseUrl);
      const init = { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) };
      res =
        url.protocol === 'https:' && this.tlsCa ? await requestWithCa(url, init, this.tlsCa) : await fetch(url, init);
    } catch (err) {
      const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
      const why = cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})`.replace('( ', '(') : '';
      throw new HubApiError(
        `cannot reach the hub API at ${this.baseUrl}: ${(err as Error).message}${why}`,
        0,
        undefined,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new HubApiError(`${method} ${path}: the hub answered ${res.status} with non-JSON`, res.status, undefined);
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new HubApiError(
        `${method} ${path}: ${res.status} ${err?.code ?? ''} ${err?.message ?? text}`.trim(),
        res.status,
        err?.code,
      );
    }
    return json as T;
  }
}
