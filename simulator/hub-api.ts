// The simulator talks to a hub only through its public HTTP API (docs/api.md), the same way for
// an embedded hub and a remote one: enrolment, channel totals, settlement, bundles, rejections.
import { request as httpRequest } from 'node:http';
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

export class HubApi {
  constructor(
    readonly baseUrl: string,
    private readonly adminToken: string | undefined,
    /** CA certificate (PEM) of an https:// API with a site CA (`tally-hub tls init`). */
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
    let res: { status: number; ok: boolean; text: () => Promise<string> };
    try {
      res = await send(
        new URL(path, this.baseUrl),
        method,
        headers,
        body === undefined ? undefined : JSON.stringify(body),
        this.tlsCa,
      );
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new HubApiError(
        `cannot reach the hub API at ${this.baseUrl}: ${e.message}${e.code ? ` (${e.code})` : ''}`,
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

/**
 * One request on a connection of its own (a run makes a few dozen). fetch() kept connections
 * alive and reused them, and a POST that followed a long pause of this process (deriving the keys
 * of 2,000 devices on a busy machine, settling 10,000 channels) went out on a connection the hub
 * had closed meanwhile: ECONNRESET, and a POST cannot be repeated blindly.
 */
function send(
  url: URL,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  body: string | undefined,
  ca?: string,
): Promise<{ status: number; ok: boolean; text: () => Promise<string> }> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false, ...(ca ? { ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status, ok: status >= 200 && status < 300, text: async () => text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
