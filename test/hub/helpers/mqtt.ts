// Small MQTT.js helpers for hub tests: connect as a device (with a real credential [P-6.4]) or as
// anything else, and wait for messages without timing assertions.
import mqtt, { type MqttClient } from 'mqtt';
import { makeMqttCredential, toHex, type KeyPair } from '../../../protocol/index.js';

export interface ConnectOutcome {
  client: MqttClient;
  /** Resolves true on CONNACK 0, false with the error when the broker refuses. */
  result: Promise<{ ok: true } | { ok: false; error: Error & { code?: number } }>;
}

export function connectRaw(url: string, options: mqtt.IClientOptions): ConnectOutcome {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 4, ...options });
  const result = new Promise<{ ok: true } | { ok: false; error: Error & { code?: number } }>((resolve) => {
    client.once('connect', () => resolve({ ok: true }));
    client.once('error', (error) => resolve({ ok: false, error: error as Error & { code?: number } }));
    client.once('close', () => resolve({ ok: false, error: new Error('closed before CONNACK') }));
  });
  return { client, result };
}

/** Each default credential of this process is newer than the last: the hub takes one once. */
let lastIssuedAtMs = 0;
const freshIssuedAt = (): number => (lastIssuedAtMs = Math.max(Date.now(), lastIssuedAtMs + 1));

export function connectDevice(
  url: string,
  hubKey: Uint8Array,
  device: KeyPair,
  opts: {
    issuedAtMs?: number;
    clientId?: string;
    clean?: boolean;
    tls?: { ca: Buffer; cert: Buffer; key: Buffer };
  } = {},
): ConnectOutcome {
  const { username, password } = makeMqttCredential({
    hubKey,
    deviceSecretKey: device.secretKey,
    devicePublicKey: device.publicKey,
    issuedAtMs: BigInt(opts.issuedAtMs ?? freshIssuedAt()),
  });
  return connectRaw(url, {
    clientId: opts.clientId ?? `tally-${toHex(device.publicKey)}`,
    username,
    password,
    clean: opts.clean ?? true,
    ...(opts.tls ?? {}),
  });
}

export async function closeClient(client: MqttClient): Promise<void> {
  await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
}

/** Collects messages on a client; `next(pred)` resolves with the first (past or future) match. */
export class Inbox {
  readonly messages: { topic: string; payload: Uint8Array }[] = [];
  private waiters: {
    pred: (m: { topic: string; payload: Uint8Array }) => boolean;
    resolve: (m: { topic: string; payload: Uint8Array }) => void;
  }[] = [];
  /** Messages already returned by next(): each is returned once, whatever order they are asked in. */
  private readonly taken = new Set<number>();

  constructor(client: MqttClient) {
    client.on('message', (topic, payload) => {
      const m = { topic, payload: new Uint8Array(payload) };
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!this.taken.has(this.messages.length - 1) && w.pred(m)) {
          this.taken.add(this.messages.length - 1);
          w.resolve(m);
          return false;
        }
        return true;
      });
    });
  }

  /** The earliest message (past or future) that satisfies pred and was not returned before. */
  next(
    pred: (m: { topic: string; payload: Uint8Array }) => boolean = () => true,
  ): Promise<{ topic: string; payload: Uint8Array }> {
    for (let i = 0; i < this.messages.length; i++) {
      if (!this.taken.has(i) && pred(this.messages[i]!)) {
        this.taken.add(i);
        return Promise.resolve(this.messages[i]!);
      }
    }
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
}
