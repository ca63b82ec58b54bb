// Management commands reach the hub one of two ways, chosen per call:
//   - a hub is running on this data dir (hub.json names its pid and HTTP address): call its API,
//     so the running hub's in-memory state and its devices are told at once;
//   - otherwise: open the database directly with a HubCore that has no network attached.
// Both implement Admin, so every command is written once.

import { apiErrorFromBody } from '../base/api-errors.js';
import { resolveConfig } from '../base/config.js';
import { ledgerLocation } from '../store/open.js';
import { HubCore, type EnrolRequest } from '../core/hub-core.js';
import { loadIdentity, openStore, readRunningInfo } from '../store/datadir.js';
import { HubMetrics } from '../base/metrics.js';
import type { HubStore } from '../store/types.js';
import type { SubscriptionRequest } from '../core/webhook-admin.js';
import { hubFetch } from './hub-fetch.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- views are printed, not typed here

export interface Admin {
  readonly mode: 'http' | 'local';
  enrol(requests: EnrolRequest[]): Promise<Json>;
  listDevices(): Promise<Json>;
  showDevice(id: string): Promise<Json>;
  revoke(id: string): Promise<Json>;
  listChannels(): Promise<Json>;
  showChannel(id: string): Promise<Json>;
  topup(id: string, amount: bigint): Promise<Json>;
  closeChannel(id: string): Promise<Json>;
  settle(): Promise<Json>;
  bundle(epoch: bigint, channels?: string[]): Promise<Json>;
  csv(epoch: bigint): Promise<string>;
  rejections(query: { limit?: number; reason?: string }): Promise<Json>;
  stats(): Promise<Json>;
  webhookAdd(req: SubscriptionRequest): Promise<Json>;
  webhookList(): Promise<Json>;
  webhookRemove(id: string): Promise<Json>;
  webhookDeliveries(q: { state?: string; limit?: number }): Promise<Json>;
  webhookRetry(id: string): Promise<Json>;
  /** A channel's low-capacity threshold: read (undefined), set ("5000", "10%", "off") or back to
   *  the default (null). */
  lowCapacity(id: string, threshold?: string | null): Promise<Json>;
  close(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

class HttpAdmin implements Admin {
  readonly mode = 'http';
  constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly certSha256: string | undefined,
  ) {}

  private async call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, raw = false): Promise<Json> {
    const res = await hubFetch(
      this.base + path,
      {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined
          ? { body: JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) }
          : {}),
      },
      this.certSha256,
    );
    const text = await res.text();
    if (!res.ok) throw apiErrorFromBody(text);
    return raw ? text : (JSON.parse(text) as Json);
  }

  enrol = async (requests: EnrolRequest[]) =>
    (
      await this.call('POST', '/api/devices', {
        devices: requests.map((r) => ({
          ...r,
          pricePerUnit: r.pricePerUnit.toString(),
          capacity: r.capacity.toString(),
        })),
      })
    ).enrolled;
  listDevices = async () => (await this.call('GET', '/api/devices')).devices;
  showDevice = (id: string) => this.call('GET', `/api/devices/${encodeURIComponent(id)}`);
  revoke = (id: string) => this.call('POST', `/api/devices/${encodeURIComponent(id)}/revoke`);
  listChannels = async () => (await this.call('GET', '/api/channels')).channels;
  showChannel = (id: string) => this.call('GET', `/api/channels/${encodeURIComponent(id)}`);
  topup = (id: string, amount: bigint) =>
    this.call('POST', `/api/channels/${encodeURIComponent(id)}/topup`, { amount: amount.toString() });
  closeChannel = (id: string) => this.call('POST', `/api/channels/${encodeURIComponent(id)}/close`);
  settle = () => this.call('POST', '/api/settlements');
  bundle = (epoch: bigint, channels?: string[]) =>
    this.call('GET', `/api/settlements/${epoch}/bundle${channels?.length ? `?channel=${channels.join(',')}` : ''}`);
  csv = (epoch: bigint) => this.call('GET', `/api/settlements/${epoch}/csv`, undefined, true) as Promise<string>;
  rejections = (q: { limit?: number; reason?: string }) => {
    const params = new URLSearchParams();
    if (q.limit !== undefined) params.set('limit', String(q.limit));
    if (q.reason) params.set('reason', q.reason);
    return this.call('GET', `/api/rejections?${params}`);
  };
  stats = () => this.call('GET', '/api/stats');
  webhookAdd = (req: SubscriptionRequest) => this.call('POST', '/api/webhooks', req);
  webhookList = async () => (await this.call('GET', '/api/webhooks')).subscriptions;
  webhookRemove = (id: string) => this.call('DELETE', `/api/webhooks/${encodeURIComponent(id)}`);
  webhookDeliveries = (q: { state?: string; limit?: number }) => {
    const params = new URLSearchParams();
    if (q.limit !== undefined) params.set('limit', String(q.limit));
    if (q.state) params.set('state', q.state);
    return this.call('GET', `/api/webhooks/deliveries?${params}`);
  };
  webhookRetry = (id: string) => this.call('POST', `/api/webhooks/deliveries/${encodeURIComponent(id)}/retry`);
  lowCapacity = (id: string, threshold?: string | null) =>
    threshold === undefined
      ? this.call('GET', `/api/channels/${encodeURIComponent(id)}/low-capacity`)
      : this.call('POST', `/api/channels/${encodeURIComponent(id)}/low-capacity`, { lowCapacity: threshold });
  async close(): Promise<void> {}
}

class LocalAdmin implements Admin {
  readonly mode = 'local';
  static async open(dataDir: string): Promise<LocalAdmin> {
    const config = resolveConfig({ dataDir });
    const identity = loadIdentity(config.dataDir);
    // With the ledger in PostgreSQL, the stopped hub's SQLite file is not it (store/open.ts).
    const ledger = ledgerLocation(config.dataDir);
    if (ledger !== undefined)
      throw new Error(
        `the ledger of ${config.dataDir} is in PostgreSQL (${ledger}): start the hub, then run this again`,
      );
    const store = openStore(config.dataDir);
    try {
      return new LocalAdmin(await HubCore.open(config, identity, store, new HubMetrics()), store);
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  private constructor(
    private readonly core: HubCore,
    private readonly store: HubStore,
  ) {}
  enrol = async (r: EnrolRequest[]) => this.core.enrol(r);
  listDevices = async () => this.core.fleetDevices();
  showDevice = async (id: string) => this.core.fleetDevice(id);
  revoke = async (id: string) => this.core.revoke(id);
  listChannels = async () => this.core.fleetChannels();
  showChannel = async (id: string) => this.core.showChannel(id);
  topup = async (id: string, amount: bigint) => this.core.topup(id, amount);
  closeChannel = async (id: string) => this.core.closeChannel(id);
  settle = async () => this.core.settle();
  bundle = async (epoch: bigint, channels?: string[]) => this.core.bundle(epoch, channels);
  csv = async (epoch: bigint) => this.core.csv(epoch);
  rejections = async (q: { limit?: number; reason?: string }) => this.core.rejections(q);
  stats = async () => this.core.stats();
  webhookAdd = (req: SubscriptionRequest) => this.core.webhooks.add(req);
  webhookList = () => this.core.webhooks.list();
  webhookRemove = (id: string) => this.core.webhooks.remove(id);
  webhookDeliveries = (q: { state?: string; limit?: number }) => this.core.webhooks.deliveries(q);
  webhookRetry = (id: string) => this.core.webhooks.retry(id);
  lowCapacity = async (id: string, threshold?: string | null) => {
    await this.core.loadWebhookState();
    return threshold === undefined ? this.core.lowCapacityView(id) : this.core.setLowCapacity(id, threshold);
  };
  async close(): Promise<void> {
    await this.core.pipeline.commit.stop();
    await this.store.close();
  }
}

/** The running hub's API if there is one on this data dir, else the database directly. */
export async function openAdmin(dataDir: string): Promise<Admin> {
  const dir = resolveConfig({ dataDir }).dataDir;
  const running = readRunningInfo(dir);
  if (running && processAlive(running.pid)) {
    const identity = loadIdentity(dir);
    try {
      const res = await hubFetch(`${running.http}/healthz`, { timeoutMs: 3_000 }, running.httpCertSha256);
      if (res.ok) return new HttpAdmin(running.http, identity.adminToken, running.httpCertSha256);
    } catch {
      /* fall through */
    }
    // Writing behind a live hub's back would leave its memory wrong: refuse instead.
    throw new Error(`a hub (pid ${running.pid}) runs on ${dir} but its API at ${running.http} does not answer`);
  }
  return LocalAdmin.open(dir);
}
