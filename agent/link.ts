// The MQTT link of one device. MQTT.js's own reconnect (a fixed period, no jitter) is switched off:
// every attempt is a fresh client with a fresh broker credential [P-6.4] (its issuedAtMs must fall
// inside the hub's window), scheduled by our exponential backoff with full jitter. The outbox is the
// source of truth for what must be sent, so nothing depends on MQTT.js's in-memory queue.
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { setNoDelay } from '../common/no-delay.js';
import { Backoff } from './backoff.js';
import type { Clock, Timer } from './clock.js';

export interface LinkOptions {
  /** One broker URL, or several comma-separated (the nodes of a clustered broker): each attempt
   *  after a lost or failed connection goes to the next, so a dead node is left for a live one. */
  readonly url: string;
  readonly clientId: string;
  /** A fresh credential for each attempt. */
  readonly credential: () => { username: string; password: string };
  /** The last will payload, computed at each attempt (status offline [P-6.6]). */
  readonly will: () => { topic: string; payload: Uint8Array };
  readonly subscriptions: readonly string[];
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly clock: Clock;
  readonly tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  readonly random?: () => number;
  readonly keepaliveSeconds?: number;
}

export interface LinkEvents {
  up: [];
  down: [reason: string];
  error: [message: string];
  message: [topic: string, payload: Buffer];
}

const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export class MqttLink extends EventEmitter<LinkEvents> {
  private client: MqttClient | undefined;
  private retry: Timer | undefined;
  private stopping = false;
  private connected = false;
  private readonly backoff: Backoff;
  private readonly urls: string[];
  private urlIndex = 0;

  constructor(private readonly opts: LinkOptions) {
    super();
    this.urls = opts.url
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u !== '');
    this.backoff = new Backoff({
      minMs: opts.reconnectMinMs,
      maxMs: opts.reconnectMaxMs,
      ...(opts.random ? { random: opts.random } : {}),
    });
  }

  get isUp(): boolean {
    return this.connected;
  }

  start(): void {
    this.stopping = false;
    this.attempt();
  }

  private attempt(): void {
    this.retry = undefined;
    if (this.stopping) return;
    const { username, password } = this.opts.credential();
    const will = this.opts.will();
    const options: IClientOptions = {
      clientId: this.opts.clientId,
      username,
      password,
      protocolVersion: 4, // MQTT 3.1.1: clean=false alone makes the session persistent [P-6.1]
      clean: false,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      keepalive: this.opts.keepaliveSeconds ?? 30,
      resubscribe: false,
      // mqtt-packet otherwise pre-builds 65,536 two-byte Buffers for message ids (about 6 MiB of
      // heap): too much for a 512 MB board, and for a simulator it buys nothing measurable.
      writeCache: false,
      will: { topic: will.topic, payload: asBuffer(will.payload), qos: 1, retain: false },
      ...(this.opts.tls ?? {}),
    };
    const client = mqtt.connect(this.urls[this.urlIndex % this.urls.length]!, options);
    this.client = client;
    client.on('connect', () => {
      if (client !== this.client) return;
      setNoDelay(client);
      client.subscribe(this.opts.subscriptions as string[], { qos: 1 }, (err) => {
        if (client !== this.client) return;
        if (err) {
          this.emit('error', `subscribe failed: ${err.message}`);
          client.end(true);
          return;
        }
        this.connected = true;
        this.backoff.reset();
        this.emit('up');
      });
    });
    client.on('message', (topic, payload) => {
      if (client === this.client) this.emit('message', topic, payload);
    });
    client.on('error', (err) => {
      if (client === this.client) this.emit('error', err.message);
    });
    client.on('close', () => {
      if (client !== this.client) return;
      this.client = undefined;
      const wasUp = this.connected;
      this.connected = false;
      client.removeAllListeners();
      client.on('error', () => undefined); // late socket errors of a dropped client are harmless
      client.end(true);
      if (wasUp) this.emit('down', 'connection closed');
      // The next attempt goes to the next node: the session lives on in a clustered broker [P-6.1].
      this.urlIndex = (this.urlIndex + 1) % this.urls.length;
      if (!this.stopping) {
        const delay = this.backoff.next();
        this.retry = this.opts.clock.after(delay, () => this.attempt());
      }
    });
  }

  /** Publishes at QoS 1; resolves on the broker's PUBACK, rejects if the link drops first. */
  publish(topic: string, payload: Uint8Array): Promise<void> {
    const client = this.client;
    if (client === undefined || !this.connected) return Promise.reject(new Error('link is down'));
    return new Promise((resolve, reject) => {
      client.publish(topic, asBuffer(payload), { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Cuts the connection as a network failure would; the usual backoff then reconnects. */
  drop(): void {
    this.client?.stream.destroy();
  }

  /** Closes the link. With graceful, waits (bounded) for in-flight publishes to be acknowledged. */
  async stop(graceful = true): Promise<void> {
    this.stopping = true;
    this.retry?.cancel();
    this.retry = undefined;
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    if (client === undefined) return;
    await new Promise<void>((resolve) => {
      const done = this.opts.clock.after(3000, () => {
        client.end(true);
        resolve();
      });
      client.end(!graceful, {}, () => {
        done.cancel();
        resolve();
      });
    });
    client.removeAllListeners();
    // A socket error can still arrive after the end (a reset from the broker): an EventEmitter
    // with no 'error' listener would turn it into an uncaught exception and kill the process.
    client.on('error', () => undefined);
  }
}
