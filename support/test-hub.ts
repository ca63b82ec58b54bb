// A small hub for the agent's integration tests, built only on protocol/: a real aedes broker on
// 127.0.0.1 (port 0) that checks the device credential [P-6.4], and a real MQTT client that plays
// the hub: grants channels on hello [P-7.1], verifies segments [P-4.5], answers receipts [P-5.1],
// asks for a resync on a gap [P-5.3], rejects over capacity. It also keeps a ground-truth record of
// every voucher ever received per seq, so tests can prove nothing was lost, doubled or equivocated.
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import {
  bytesEqual,
  channelIdOf,
  decodeSegment,
  decodeStatus,
  encodeChannelRecord,
  encodeControl,
  encodeReceipt,
  generateKeyPair,
  genesisHead,
  HUB_UPLINK_FILTER,
  makeReceipt,
  parseTopic,
  segmentHeadSeq,
  toHex,
  topics,
  verifyMqttCredential,
  verifySegment,
  type ChannelRecord,
  type Control,
  type Head,
  type KeyPair,
  type Segment,
} from '../protocol/index.js';

export interface HubChannel {
  record: ChannelRecord;
  channelId: Uint8Array;
  capacity: bigint;
  state: 'open' | 'exhausted' | 'closed' | 'revoked';
  head: Head;
  /** seq -> voucher hash hex of everything accepted (never forgotten, to catch equivocation). */
  accepted: Map<bigint, string>;
  /** seqs in the order they were first accepted. */
  order: bigint[];
  equivocations: number;
  duplicates: number;
  gaps: number;
  rejects: string[];
  statuses: string[];
}

export interface TestHubOptions {
  readonly pricePerUnit?: bigint;
  readonly capacity?: bigint;
  /** Grant automatically on hello for any device (default true). */
  readonly autoEnrol?: boolean;
  readonly port?: number;
}

export class TestHub {
  readonly keyPair: KeyPair = generateKeyPair();
  readonly channels = new Map<string, HubChannel>();
  readonly enrolled = new Set<string>();
  brokerConnects = 0;
  authFailures = 0;
  /** When false, segments are swallowed without a receipt (a hub that lost them). */
  acking = true;
  /** Segments received while not acking. */
  swallowed = 0;
  /** Highest head seq among the swallowed segments. */
  swallowedUpTo = 0n;
  /** Drop the next n segments silently, as if lost in transit. */
  dropNext = 0;
  /** Ignore the next n hellos, as if no hub had heard them (its client not yet subscribed). */
  ignoreHellos = 0;
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private client: MqttClient | undefined;
  port = 0;

  constructor(private readonly opts: TestHubOptions = {}) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }
  get hubKeyHex(): string {
    return toHex(this.keyPair.publicKey);
  }

  async start(): Promise<void> {
    await this.startBroker(this.opts.port ?? 0);
    await this.startHubClient();
  }

  async startBroker(port: number): Promise<void> {
    const aedes = await Aedes.createBroker();
    aedes.authenticate = (client, username, password, done) => {
      if (username === 'test-hub') return done(null, true);
      const v = verifyMqttCredential({
        hubKey: this.keyPair.publicKey,
        username,
        password: password?.toString(),
        nowMs: BigInt(Date.now()),
        windowMs: 600_000n,
      });
      const ok = v.ok && client.id === `tally-${username}`;
      if (!ok) this.authFailures++;
      else this.brokerConnects++;
      done(null, ok);
    };
    this.aedes = aedes;
    const server = createServer(aedes.handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    const addr = server.address();
    this.port = typeof addr === 'object' && addr !== null ? addr.port : port;
  }

  async stopBroker(): Promise<void> {
    const aedes = this.aedes;
    const server = this.server;
    this.aedes = undefined;
    this.server = undefined;
    await new Promise<void>((resolve) => (aedes ? aedes.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  async startHubClient(): Promise<void> {
    const client = mqtt.connect(this.url, {
      clientId: 'tally-hub-test-0',
      username: 'test-hub',
      password: 'x',
      clean: false,
      reconnectPeriod: 100,
      protocolVersion: 4,
    });
    this.client = client;
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () =>
        client.subscribe(HUB_UPLINK_FILTER, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
      );
      client.once('error', reject);
    });
    client.on('message', (topic, payload) => this.onMessage(topic, new Uint8Array(payload)));
  }

  async stopHubClient(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await c.endAsync(true);
  }

  async stop(): Promise<void> {
    await this.stopHubClient();
    await this.stopBroker();
  }

  enrol(deviceHex: string): void {
    this.enrolled.add(deviceHex);
  }

  channelOf(deviceHex: string): HubChannel | undefined {
    return this.channels.get(deviceHex);
  }

  /** Raises the capacity and tells the device [P-7.3]. */
  topup(deviceHex: string, capacity: bigint): void {
    const ch = this.channels.get(deviceHex)!;
    ch.capacity = capacity;
    ch.state = 'open';
    this.sendControl(deviceHex, {
      kind: 'capacity',
      channelId: ch.channelId,
      capacity,
      cumAmount: ch.head.cumAmount,
      state: 'open',
    });
  }

  sendControl(deviceHex: string, c: Control, signer: KeyPair = this.keyPair): void {
    this.client?.publish(topics.control(deviceHex), Buffer.from(encodeControl(c, signer.secretKey)), { qos: 1 });
  }

  sendRaw(topic: string, bytes: Uint8Array): void {
    this.client?.publish(topic, Buffer.from(bytes), { qos: 1 });
  }

  private onMessage(topic: string, bytes: Uint8Array): void {
    const t = parseTopic(topic);
    if (t === undefined) return;
    if (t.kind === 'status') this.onStatus(t.deviceHex, bytes);
    else if (t.kind === 'seg') this.onSegment(t.deviceHex, bytes);
  }

  private onStatus(dev: string, bytes: Uint8Array): void {
    const s = decodeStatus(bytes);
    if (!s.ok) return;
    const ch = this.channels.get(dev);
    ch?.statuses.push(s.value.state);
    if (s.value.state !== 'hello') return;
    if (!this.enrolled.has(dev) && this.opts.autoEnrol === false) return;
    if (this.ignoreHellos > 0) {
      this.ignoreHellos--;
      return;
    }
    const channel = ch ?? this.open(dev);
    channel.statuses.push('hello');
    this.sendGrant(dev, channel);
  }

  private open(dev: string): HubChannel {
    const record: ChannelRecord = {
      network: 'test-net',
      hubKey: this.keyPair.publicKey,
      deviceKey: Buffer.from(dev, 'hex'),
      unit: 'Wh',
      pricePerUnit: this.opts.pricePerUnit ?? 7n,
      capacity: this.opts.capacity ?? 1_000_000_000n,
      openedAtMs: BigInt(Date.now()),
      expiresAtMs: 0n,
      nonce: 1n,
    };
    const channelId = channelIdOf(encodeChannelRecord(record));
    const ch: HubChannel = {
      record,
      channelId,
      capacity: record.capacity,
      state: 'open',
      head: genesisHead(channelId),
      accepted: new Map(),
      order: [],
      equivocations: 0,
      duplicates: 0,
      gaps: 0,
      rejects: [],
      statuses: [],
    };
    this.channels.set(dev, ch);
    return ch;
  }

  sendGrant(dev: string, ch: HubChannel): void {
    this.sendControl(dev, { kind: 'grant', record: ch.record, capacity: ch.capacity, state: ch.state, head: ch.head });
  }

  private receipt(dev: string, ch: HubChannel): void {
    if (ch.head.seq === 0n) return;
    const r = makeReceipt(
      {
        channelId: ch.channelId,
        seq: ch.head.seq,
        headHash: ch.head.hash,
        cumUnits: ch.head.cumUnits,
        cumAmount: ch.head.cumAmount,
        hubTimeMs: BigInt(Date.now()),
      },
      this.keyPair.secretKey,
    );
    this.sendRaw(topics.receipt(dev), encodeReceipt(r));
  }

  private onSegment(dev: string, bytes: Uint8Array): void {
    const ch = this.channels.get(dev);
    const decoded = decodeSegment(bytes);
    if (ch === undefined || !decoded.ok) return;
    if (this.dropNext > 0) {
      this.dropNext--;
      return;
    }
    if (!this.acking) {
      this.swallowed++;
      const head = segmentHeadSeq(decoded.value);
      if (head > this.swallowedUpTo) this.swallowedUpTo = head;
      return;
    }
    const seg = decoded.value;
    const ctx = {
      channelId: ch.channelId,
      deviceKey: ch.record.deviceKey,
      pricePerUnit: ch.record.pricePerUnit,
      capacity: ch.capacity,
    };
    if (seg.firstSeq > ch.head.seq + 1n) {
      ch.gaps++;
      this.sendControl(dev, { kind: 'resync', channelId: ch.channelId, head: ch.head, reason: 'SEQ_GAP' });
      return;
    }
    // A segment that starts at or below the head: check it against what we hold (duplicate or
    // equivocation), then accept whatever part of it is new.
    const prev = seg.firstSeq - 1n === ch.head.seq ? ch.head : this.headAt(ch, seg.firstSeq - 1n);
    if (prev === undefined) return;
    const v = verifySegment(seg, prev, ctx);
    if (!v.ok) {
      ch.rejects.push(v.code);
      if (v.code === 'OVER_CAPACITY') {
        ch.state = 'exhausted';
        this.sendControl(dev, {
          kind: 'reject',
          channelId: ch.channelId,
          seq: segmentHeadSeq(seg),
          reason: 'OVER_CAPACITY',
        });
        this.sendControl(dev, {
          kind: 'capacity',
          channelId: ch.channelId,
          capacity: ch.capacity,
          cumAmount: ch.head.cumAmount,
          state: 'exhausted',
        });
      } else if (v.code === 'BAD_LINK') {
        this.sendControl(dev, { kind: 'resync', channelId: ch.channelId, head: ch.head, reason: 'BAD_LINK' });
      }
      return;
    }
    let fresh = false;
    v.value.vouchers.forEach((voucher, i) => {
      const hex = toHex(v.value.hashes[i]!);
      const known = ch.accepted.get(voucher.seq);
      if (known === undefined) {
        ch.accepted.set(voucher.seq, hex);
        ch.order.push(voucher.seq);
        this.units.set(`${dev}:${voucher.seq}`, voucher);
        fresh = true;
      } else if (known !== hex) ch.equivocations++;
    });
    if (!fresh) ch.duplicates++;
    if (v.value.head.seq > ch.head.seq) ch.head = v.value.head;
    if (ch.capacity > 0n && ch.head.cumAmount >= ch.capacity && ch.record.pricePerUnit > 0n) ch.state = 'exhausted';
    this.receipt(dev, ch);
  }

  private readonly units = new Map<string, { seq: bigint; cumUnits: bigint; cumAmount: bigint }>();

  private headAt(ch: HubChannel, seq: bigint): Head | undefined {
    if (seq === 0n) return genesisHead(ch.channelId);
    const hash = ch.accepted.get(seq);
    const dev = toHex(ch.record.deviceKey);
    const v = this.units.get(`${dev}:${seq}`);
    if (hash === undefined || v === undefined) return undefined;
    return { seq, hash: Buffer.from(hash, 'hex'), cumUnits: v.cumUnits, cumAmount: v.cumAmount };
  }
}

// Deadlines are there to end a hung test, not to measure speed. Under CPU emulation (the ARM
// check runs these tests on qemu-user, 10-20 times slower) they are stretched by this factor.
const DEADLINE_SCALE = Math.max(1, Number(process.env.TALLY_TEST_DEADLINE_SCALE) || 1);

/** Polls until cond() holds; fails with `what` after the deadline (no timing is asserted). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs * DEADLINE_SCALE) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const segmentUnits = (s: Segment): bigint => s.vouchers[s.vouchers.length - 1]!.cumUnits;
export { bytesEqual };
