// A test device built from protocol/ functions over a real MQTT.js client: it connects with its
// credential [P-6.4], asks for its GRANT [P-6.6, P-7.1], builds and signs segments [P-4.4],
// publishes them [P-6.5] and checks every receipt [P-5.2] and control message [P-7].
import type { MqttClient } from 'mqtt';
import {
  buildSegment,
  channelIdOf,
  decodeControl,
  decodeReceipt,
  encodeSegment,
  encodeStatus,
  generateKeyPair,
  genesisHead,
  toHex,
  topics,
  verifyReceipt,
  type BuiltSegment,
  type Control,
  type Head,
  type KeyPair,
  type Receipt,
} from '../../../protocol/index.js';
import type { HubHandle } from '../../../hub/server.js';
import { closeClient, connectDevice, Inbox } from './mqtt.js';

export interface Terms {
  unit?: string;
  price?: bigint;
  capacity?: bigint;
  expiresAtMs?: bigint;
}

export class TestDevice {
  readonly hex: string;
  client: MqttClient | undefined;
  inbox: Inbox | undefined;
  channelId: Uint8Array | undefined;
  price = 0n;
  /** The device's own chain head (what it has signed so far). */
  head: Head | undefined;
  readonly built: BuiltSegment[] = [];
  private time = 1_000n;

  constructor(
    readonly hub: HubHandle,
    readonly key: KeyPair = generateKeyPair(),
  ) {
    this.hex = toHex(key.publicKey);
  }

  /** Enrols through the hub core (the HTTP path is tested separately). */
  async enrol(terms: Terms = {}): Promise<this> {
    const [r] = await this.hub.core.enrol([
      {
        publicKey: this.hex,
        unit: terms.unit ?? 'Wh',
        pricePerUnit: terms.price ?? 3n,
        capacity: terms.capacity ?? 1_000_000_000n,
        ...(terms.expiresAtMs !== undefined ? { expiresAtMs: terms.expiresAtMs } : {}),
      },
    ]);
    if (!r) throw new Error('enrol returned nothing');
    return this;
  }

  /** Connects, subscribes to the downlink, says hello and waits for the GRANT. */
  async connect(
    url = this.hub.mqttUrl,
    tls?: { ca: Buffer; cert: Buffer; key: Buffer },
  ): Promise<Extract<Control, { kind: 'grant' }>> {
    const c = connectDevice(url, this.hub.hubKey.publicKey, this.key, tls ? { tls } : {});
    const result = await c.result;
    if (!result.ok) throw result.error;
    this.client = c.client;
    this.inbox = new Inbox(c.client);
    await c.client.subscribeAsync(`tally/v1/d/${this.hex}/down/#`, { qos: 1 });
    await this.hello();
    const grant = await this.nextControl('grant');
    this.adopt(grant);
    return grant;
  }

  async hello(): Promise<void> {
    const status = encodeStatus({
      state: 'hello',
      channelId: new Uint8Array(32),
      ackedSeq: 0n,
      outboxDepth: 0,
      deviceTimeMs: 0n,
    });
    await this.client!.publishAsync(topics.status(this.hex), Buffer.from(status), { qos: 1 });
  }

  /** Adopts the channel of a GRANT and starts the chain at the hub's head when it has none. */
  adopt(grant: Extract<Control, { kind: 'grant' }>): void {
    this.channelId = channelIdOf(grant.record);
    this.price = grant.record.pricePerUnit;
    this.head ??= grant.head.seq === 0n ? genesisHead(this.channelId) : grant.head;
  }

  /** Builds (and remembers) the next segment: `count` vouchers of `unitsEach` units each. */
  build(count: number, unitsEach = 1n, key: KeyPair = this.key): BuiltSegment {
    const prev = this.head!;
    const vouchers = [];
    let units = prev.cumUnits;
    for (let i = 0; i < count; i++) {
      units += unitsEach;
      vouchers.push({ cumUnits: units, cumAmount: units * this.price, deviceTimeMs: this.time++ });
    }
    const built = buildSegment({ channelId: this.channelId!, prev, vouchers, secretKey: key.secretKey });
    this.head = built.head;
    this.built.push(built);
    return built;
  }

  async publish(seg: BuiltSegment | Uint8Array): Promise<void> {
    const bytes = seg instanceof Uint8Array ? seg : encodeSegment(seg.segment);
    await this.client!.publishAsync(topics.segment(this.hex), Buffer.from(bytes), { qos: 1 });
  }

  /** The first receipt (verified with the hub key) whose seq is at least `seq`. */
  async receiptAtLeast(seq: bigint): Promise<Receipt> {
    const m = await this.inbox!.next((m) => {
      if (!m.topic.endsWith('/down/receipt')) return false;
      const r = decodeReceipt(m.payload);
      return r.ok && r.value.seq >= seq;
    });
    const r = decodeReceipt(m.payload);
    if (!r.ok) throw new Error(r.code);
    if (!verifyReceipt(r.value, this.hub.hubKey.publicKey)) throw new Error('receipt signature invalid');
    return r.value;
  }

  async nextControl<K extends Control['kind']>(kind: K): Promise<Extract<Control, { kind: K }>> {
    const m = await this.inbox!.next((m) => {
      if (!m.topic.endsWith('/down/ctl')) return false;
      const c = decodeControl(m.payload, this.hub.hubKey.publicKey);
      return c.ok && c.value.kind === kind;
    });
    const c = decodeControl(m.payload, this.hub.hubKey.publicKey);
    if (!c.ok) throw new Error(c.code);
    return c.value as Extract<Control, { kind: K }>;
  }

  async disconnect(): Promise<void> {
    if (this.client) await closeClient(this.client);
    this.client = undefined;
  }
}

/** Enrols, connects and adopts the channel: a device ready to send. */
export async function readyDevice(hub: HubHandle, terms: Terms = {}): Promise<TestDevice> {
  const d = await new TestDevice(hub).enrol(terms);
  await d.connect();
  return d;
}
