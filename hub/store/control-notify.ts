// The cluster's control plane on PostgreSQL: a management operation (enrol, top-up, revoke, close)
// made on any hub writes the database and, in the same transaction, NOTIFYs what it changed. The
// database delivers a notification only if that transaction commits, in commit order, to every hub
// that LISTENs; the hub owning the device reloads it from the database and sends its controls
// (GRANT, CAPACITY) at once. Hubs that do not own it ignore it.
//
// A hub that loses its listening connection may have missed notifications: on reconnecting it is
// told to reload everything it owns (onResync), which is always safe, since the database holds
// the truth.

import pg from 'pg';
import type { Queryable } from './cluster-schema.js';

export const CONTROL_CHANNEL = 'tally_control';

export type ControlChange =
  | { kind: 'device'; deviceKey: string; op: 'enrol' | 'revoke' }
  /** An enrolment of many devices, up to ENROLLED_PER_NOTIFY of them in one notification. */
  | { kind: 'devices'; deviceKeys: string[]; op: 'enrol' }
  | { kind: 'channel'; channelId: string; deviceKey: string; op: 'topup' | 'close' | 'state' | 'open' };

/** Device keys per 'devices' notification: 100 keys of 64 hex characters keep the payload under
 *  PostgreSQL's 8,000-byte limit, and an enrolment of 20,000 devices costs 200 notifications. */
export const ENROLLED_PER_NOTIFY = 100;

const HEX32 = /^[0-9a-f]{64}$/;
const DEVICE_OPS = new Set(['enrol', 'revoke']);
const CHANNEL_OPS = new Set(['topup', 'close', 'state', 'open']);

/** Queues the notification in the caller's transaction: sent if, and when, it commits. */
export async function notifyControl(tx: Queryable, change: ControlChange): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, JSON.stringify(change)]);
}

/** The change a payload names, or undefined when it is not one this version understands. */
export function parseControl(payload: string | undefined): ControlChange | undefined {
  if (!payload) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.kind === 'devices' && o.op === 'enrol' && Array.isArray(o.deviceKeys)) {
    const keys = o.deviceKeys as unknown[];
    if (keys.length === 0 || keys.length > ENROLLED_PER_NOTIFY) return undefined;
    if (!keys.every((k) => typeof k === 'string' && HEX32.test(k))) return undefined;
    return { kind: 'devices', deviceKeys: keys as string[], op: 'enrol' };
  }
  if (typeof o.deviceKey !== 'string' || !HEX32.test(o.deviceKey) || typeof o.op !== 'string') return undefined;
  if (o.kind === 'device' && DEVICE_OPS.has(o.op))
    return { kind: 'device', deviceKey: o.deviceKey, op: o.op as 'enrol' | 'revoke' };
  if (o.kind === 'channel' && CHANNEL_OPS.has(o.op) && typeof o.channelId === 'string' && HEX32.test(o.channelId))
    return {
      kind: 'channel',
      channelId: o.channelId,
      deviceKey: o.deviceKey,
      op: o.op as 'topup' | 'close' | 'state' | 'open',
    };
  return undefined;
}

export interface ControlListenerOptions {
  connectionString: string;
  /** Apart from the URL, so that it never appears in a message. */
  password?: string;
  onChange: (change: ControlChange) => void;
  /** The connection was lost and is back: notifications may have been missed. */
  onResync: () => void;
  /** A notification that does not parse (a newer hub's, or garbage): ignored, counted here. */
  onInvalid?: (payload: string) => void;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Longest wait between reconnection attempts (default 5000 ms). */
  maxBackoffMs?: number;
}

/** LISTENs on a dedicated connection (not a pooled one: a pool would hand it to queries). */
export class ControlListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private attempt = 0;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly options: ControlListenerOptions) {}

  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const { connectionString, password } = this.options;
    const client = new pg.Client({ connectionString, ...(password !== undefined ? { password } : {}) });
    client.on('notification', (msg) => {
      if (msg.channel !== CONTROL_CHANNEL) return;
      const change = parseControl(msg.payload);
      if (change) this.options.onChange(change);
      else this.options.onInvalid?.(msg.payload ?? '');
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${CONTROL_CHANNEL}`);
    } catch (err) {
      client.end().catch(() => {}); // a half-open connection must not linger until the server drops it
      throw err;
    }
    if (this.stopped) {
      // stop() ran while this (re)connection was under way: it has nothing to close but this.
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.attempt = 0;
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => {});
    this.options.log?.('warn', `control listener lost its connection: ${err.message}`);
    this.reconnect();
  }

  private reconnect(): void {
    // Full jitter: a cluster whose database restarts does not reconnect all at once.
    const cap = Math.min(this.options.maxBackoffMs ?? 5000, 100 * 2 ** this.attempt++);
    this.retry = setTimeout(() => {
      this.connect().then(
        () => {
          if (!this.stopped) this.options.onResync();
        },
        (err: unknown) => {
          this.options.log?.('warn', `control listener reconnect failed: ${(err as Error).message}`);
          if (!this.stopped) this.reconnect();
        },
      );
    }, Math.random() * cap);
    this.retry.unref?.();
  }
}
