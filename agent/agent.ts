// One device agent: meter -> vouchers -> durable outbox -> MQTT -> receipts. A library first: the
// CLI wraps it, and the fleet simulator runs thousands of them in one process, so an Agent holds no
// process-global state, installs no signal handler and never exits the process.
//
// The order that makes a unit impossible to lose or double [P-5.2]:
//   1. readings move units into `pending` (memory); the committed meter state still accounts for
//      them, so a crash here re-derives them from the counter on restart;
//   2. flush: build and sign segments, then ONE transaction commits the vouchers, the segments,
//      the new head and the meter state that produced them;
//   3. only committed segments are published, always read back from the outbox;
//   4. entries are deleted only when a verified receipt covers them.
// A signature made in step 2 whose transaction did not commit dies with the process: it was never
// stored or sent, so no one can ever hold two different vouchers for one seq.
import { EventEmitter } from 'node:events';
import {
  bytesEqual, decodeChannelRecord, decodeControl, encodeStatus, genesisHead, makeMqttCredential, toHex, topics,
  clientIdForDevice, type ChannelRecord, type Control, type Ed25519Backend, type Head, type KeyPair, type StatusState,
} from '../protocol/index.js';
import { backoffCeiling } from './backoff.js';
import { buildFlush, unitsAllowed } from './chain.js';
import { systemClock, type Clock, type Timer } from './clock.js';
import { AGENT_CODES, type AgentCode, type AgentLogEntry } from './codes.js';
import type { CrashPoint } from './config.js';
import { judgeGrant, judgeReceipt } from './downlink.js';
import { Drain } from './drain.js';
import { MqttLink } from './link.js';
import { stepCounter, type MeterSource } from './meter/index.js';
import type { ChannelState, OutboxStore, StoredReceipt } from './outbox/types.js';

export interface AgentOptions {
  readonly keyPair: KeyPair;
  readonly hubKey: Uint8Array;
  readonly store: OutboxStore;
  readonly meter: MeterSource;
  readonly broker: { readonly url: string; readonly tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer } };
  readonly batch?: number;
  readonly batchMs?: number;
  readonly window?: number;
  readonly maxBacklog?: number;
  readonly ackTimeoutMs?: number;
  /** First delay before a device without a channel says hello again; doubles up to 2 minutes. */
  readonly helloRetryMs?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly backend?: Ed25519Backend;
  /** Test-only kill points (see TALLY_AGENT_CRASH_AT in docs/agent.md). */
  readonly onCrashPoint?: (point: CrashPoint, occurrence: number) => void;
  /**
   * Simulation hook: every segment goes through it instead of straight to the link, so the fleet
   * simulator can duplicate, delay, reorder or forge traffic on the wire. `publish` sends one
   * payload on the segment topic; the hook must send the genuine payload at some point.
   */
  readonly interceptSegment?: (payload: Uint8Array, publish: (payload: Uint8Array) => Promise<void>) => Promise<void>;
}

interface Channel {
  channelId: Uint8Array;
  record: ChannelRecord;
  capacity: bigint;
  state: ChannelState;
  head: Head;
}

export interface AgentEvents {
  log: [entry: AgentLogEntry];
  channel: [channelIdHex: string];
  committed: [firstSeq: bigint, lastSeq: bigint];
  receipt: [seq: bigint, cumUnits: bigint, cumAmount: bigint];
  link: [up: boolean];
}

/** Vouchers made in one transaction at most; more pending units are flushed in the next turn. */
const MAX_VOUCHERS_PER_FLUSH = 16_384;
const METER_LOG_INTERVAL_MS = 60_000;
/** A device without a channel asks again after this long, then backs off (see armHello). Its hello
 *  can go unanswered: after a restart of a broker without persistence, a device may reconnect and
 *  say hello before the hub's own client has subscribed again, and both the hello and the hub's
 *  grant on subscription are lost. A device that already holds its channel needs no grant. */
const HELLO_RETRY_MS = 5_000;
const HELLO_RETRY_MAX_MS = 120_000;

export class Agent extends EventEmitter<AgentEvents> {
  readonly deviceHex: string;
  readonly counters = {
    unitsMetered: 0n, vouchersCommitted: 0n, segmentsCommitted: 0, segmentsPublished: 0, receiptsApplied: 0,
    receiptsIgnored: 0, controlsIgnored: 0, rejects: 0, resyncs: 0, meterProblems: 0, counterResets: 0, linkUps: 0,
  };

  private readonly o: Required<Omit<AgentOptions, 'onCrashPoint' | 'backend' | 'random' | 'interceptSegment'>> & AgentOptions;
  private readonly clock: Clock;
  private readonly link: MqttLink;
  private channel: Channel | undefined;
  private receipt: StoredReceipt | undefined;
  private baseline: bigint | undefined;
  private pending = 0n;
  private committedCarried = 0n;
  private meterDirty = false;
  private outstanding = 0;
  private exhausted = false;
  private closedLogged = false;
  private backlogLevel = 0;
  private running = false;
  private batchTimer: Timer | undefined;
  private helloTimer: Timer | undefined;
  private flushQueued = false;
  private readonly drain: Drain;
  private lastMeterLog = new Map<AgentCode, number>();
  private crashCounts = new Map<CrashPoint, number>();

  constructor(options: AgentOptions) {
    super();
    this.o = {
      batch: 64, batchMs: 1000, window: 8, maxBacklog: 2_000_000, ackTimeoutMs: 15_000, helloRetryMs: HELLO_RETRY_MS, reconnectMinMs: 500,
      reconnectMaxMs: 60_000, clock: systemClock, ...options,
    };
    this.clock = this.o.clock;
    this.deviceHex = toHex(options.keyPair.publicKey);
    const dev = this.deviceHex;
    this.link = new MqttLink({
      url: this.o.broker.url,
      clientId: clientIdForDevice(dev),
      credential: () => makeMqttCredential({
        hubKey: this.o.hubKey, deviceSecretKey: this.o.keyPair.secretKey, devicePublicKey: this.o.keyPair.publicKey,
        issuedAtMs: BigInt(this.clock.now()),
      }),
      will: () => ({ topic: topics.status(dev), payload: this.statusBytes('offline') }), // [P-6.1] last will
      subscriptions: [topics.receipt(dev), topics.control(dev)],
      reconnectMinMs: this.o.reconnectMinMs,
      reconnectMaxMs: this.o.reconnectMaxMs,
      clock: this.clock,
      ...(this.o.broker.tls ? { tls: this.o.broker.tls } : {}),
      ...(this.o.random ? { random: this.o.random } : {}),
    });
    this.drain = new Drain({
      store: this.o.store, window: this.o.window, ackTimeoutMs: this.o.ackTimeoutMs, clock: this.clock,
      send: (bytes) => this.sendSegment(bytes),
      ackedSeq: () => this.receipt?.seq ?? 0n,
      onTimeout: (waiting) => this.log('ACK_TIMEOUT', `${waiting} segments after seq ${this.receipt?.seq ?? 0n}`),
      onError: (msg) => this.log('FLUSH_FAILED', msg),
    });
    this.link.on('up', () => this.onLinkUp());
    this.link.on('down', (why) => this.onLinkDown(why));
    this.link.on('error', (msg) => this.logThrottled('LINK_ERROR', msg));
    this.link.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /** Loads the committed state, starts the meter and the link. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const snap = this.o.store.load();
    this.baseline = snap.meter.baseline;
    this.pending = snap.meter.carried;
    this.committedCarried = snap.meter.carried;
    this.receipt = snap.receipt;
    if (snap.channel !== undefined) this.useStoredChannel(snap.channel);
    this.o.meter.start({
      reading: (v) => this.onReading(v),
      problem: (code, detail) => {
        this.counters.meterProblems++;
        this.logThrottled(code, detail);
      },
    }, this.baseline);
    this.link.start();
    if (this.pending > 0n) this.scheduleFlush();
  }

  /** Clean shutdown: read the meter once more, sign and commit every pending unit, publish what
   *  the window allows, say offline, close. The store stays open: its owner closes it. */
  async stop(): Promise<void> {
    if (!this.running) return;
    await this.o.meter.pollNow().catch(() => undefined);
    await this.o.meter.stop();
    this.running = false;
    this.batchTimer?.cancel();
    this.helloTimer?.cancel();
    this.drain.stop();
    this.flushAll();
    if (this.link.isUp) {
      this.pump();
      await this.link.publish(topics.status(this.deviceHex), this.statusBytes('offline')).catch(() => undefined);
    }
    await this.link.stop(true);
  }

  /**
   * A power cut, for the simulator: stops at once with no flush, no last words and no goodbye to
   * the broker (which then publishes the last will). Whatever was committed stays in the outbox
   * for the next Agent over the same store; everything else dies with this object.
   */
  kill(): void {
    if (!this.running) return;
    this.running = false;
    this.batchTimer?.cancel();
    this.helloTimer?.cancel();
    this.drain.stop();
    void this.o.meter.stop();
    void this.link.stop(false);
  }

  /** A network cut, for the simulator: drops the connection; the link reconnects with backoff. */
  dropConnection(): void {
    this.link.drop();
  }

  get isConnected(): boolean {
    return this.link.isUp;
  }

  /** A snapshot for status displays and the simulator's ledger. */
  snapshot() {
    const c = this.channel;
    return {
      deviceKey: this.deviceHex,
      connected: this.link.isUp,
      channel: c === undefined ? undefined : {
        channelId: toHex(c.channelId), unit: c.record.unit, pricePerUnit: c.record.pricePerUnit, capacity: c.capacity,
        state: c.state, headSeq: c.head.seq, cumUnits: c.head.cumUnits, cumAmount: c.head.cumAmount,
        balanceLeft: c.capacity > c.head.cumAmount ? c.capacity - c.head.cumAmount : 0n,
      },
      exhausted: this.exhausted,
      ackedSeq: this.receipt?.seq ?? 0n,
      ackedUnits: this.receipt?.cumUnits ?? 0n,
      outboxDepth: this.outstanding,
      pendingUnits: this.pending,
      counters: { ...this.counters },
    };
  }

  // ---- metering and production ---------------------------------------------------------------

  private onReading(value: bigint): void {
    const step = stepCounter(this.baseline, value);
    if (step.event !== undefined) {
      this.counters.counterResets++;
      this.log('METER_DECREASED', `from ${step.event.from} to ${step.event.to}`);
    }
    if (step.baseline !== this.baseline) this.meterDirty = true;
    this.baseline = step.baseline;
    if (step.units === 0n) {
      if (this.meterDirty) this.armBatchTimer();
      return;
    }
    this.counters.unitsMetered += step.units;
    this.pending += step.units;
    if (this.pending >= BigInt(this.o.batch)) this.scheduleFlush();
    else this.armBatchTimer();
  }

  private armBatchTimer(): void {
    if (this.batchTimer === undefined && this.running) {
      this.batchTimer = this.clock.after(this.o.batchMs, () => {
        this.batchTimer = undefined;
        this.flush(true);
      });
    }
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    // Coalesce readings of the same turn into one transaction.
    setImmediate(() => {
      this.flushQueued = false;
      if (this.running) this.flush(false);
    });
  }

  private flushAll(): void {
    for (let i = 0; i < 1_000 && this.flush(true) > 0; i++);
  }

  /** Commits vouchers for pending units. Unless `partial`, only whole batches are signed now and
   *  the remainder waits for the batch timer. Returns the number of vouchers committed. */
  private flush(partial: boolean): number {
    this.batchTimer?.cancel();
    this.batchTimer = undefined;
    const c = this.channel;
    let units = 0n;
    if (c !== undefined && this.pending > 0n && this.channelUsable(c)) {
      const allowed = unitsAllowed(c.head, c.record.pricePerUnit, c.capacity);
      if (allowed === 0n) this.setExhausted(true);
      const room = BigInt(Math.max(0, this.o.maxBacklog - this.outstanding));
      units = [this.pending, allowed, room, BigInt(MAX_VOUCHERS_PER_FLUSH)].reduce((a, b) => (a < b ? a : b));
      if (!partial && units === this.pending && units >= BigInt(this.o.batch)) units -= units % BigInt(this.o.batch);
      else if (!partial && units < BigInt(this.o.batch)) units = 0n;
      if (room === 0n) this.checkBacklog();
    } else if (c === undefined && this.pending > 0n) {
      this.logThrottled('UNITS_HELD', `${this.pending} units waiting for a channel`);
    }
    if (units === 0n) {
      if (this.meterDirty || this.pending !== this.committedCarried) this.saveMeter();
      if (this.pending > 0n) this.armBatchTimer();
      return 0;
    }
    const n = Number(units);
    const built = buildFlush({
      channelId: c!.channelId, head: c!.head, units: n, pricePerUnit: c!.record.pricePerUnit, batch: this.o.batch,
      deviceTimeMs: BigInt(this.clock.now()), secretKey: this.o.keyPair.secretKey,
      meter: { baseline: this.baseline, carried: this.pending - units },
      ...(this.o.backend ? { backend: this.o.backend } : {}),
    });
    this.crash('before-commit');
    try {
      this.o.store.commit(built.record);
    } catch (err) {
      this.log('FLUSH_FAILED', (err as Error).message);
      this.armBatchTimer();
      return 0;
    }
    this.crash('after-commit');
    this.meterDirty = false;
    this.pending -= units;
    this.committedCarried = this.pending;
    c!.head = built.record.head;
    this.outstanding += n;
    this.counters.vouchersCommitted += units;
    this.counters.segmentsCommitted += built.segments.length;
    this.checkBacklog();
    this.emit('committed', built.record.vouchers[0]!.seq, built.record.head.seq);
    this.pump();
    if (this.pending >= BigInt(this.o.batch)) this.scheduleFlush();
    else if (this.pending > 0n) this.armBatchTimer();
    return n;
  }

  private saveMeter(): void {
    try {
      this.o.store.saveMeter({ baseline: this.baseline, carried: this.pending });
      this.meterDirty = false;
      this.committedCarried = this.pending;
    } catch (err) {
      this.log('FLUSH_FAILED', (err as Error).message);
    }
  }

  private channelUsable(c: Channel): boolean {
    const expired = c.record.expiresAtMs !== 0n && BigInt(this.clock.now()) >= c.record.expiresAtMs;
    if (c.state === 'closed' || c.state === 'revoked' || expired) {
      if (!this.closedLogged) this.log('CHANNEL_CLOSED', expired ? 'expired' : c.state);
      this.closedLogged = true;
      return false;
    }
    if (c.state === 'exhausted') {
      this.setExhausted(true);
      return false;
    }
    return true;
  }

  private setExhausted(now: boolean): void {
    if (now === this.exhausted) return;
    this.exhausted = now;
    const c = this.channel;
    this.log(now ? 'CHANNEL_EXHAUSTED' : 'CHANNEL_RESUMED',
      c === undefined ? undefined : `capacity ${c.capacity}, signed ${c.head.cumAmount}, ${this.pending} units held`);
    this.sendStatus(now ? 'exhausted' : 'online');
  }

  private checkBacklog(): void {
    const ratio = this.outstanding / this.o.maxBacklog;
    const level = ratio >= 1 ? 3 : ratio >= 0.8 ? 2 : ratio >= 0.5 ? 1 : 0;
    if (level > this.backlogLevel) {
      this.log(level === 3 ? 'BACKLOG_FULL' : 'BACKLOG_HIGH', `${this.outstanding} of ${this.o.maxBacklog} vouchers unacknowledged`);
    }
    this.backlogLevel = level;
  }

  // ---- the link and the drain ----------------------------------------------------------------

  private onLinkUp(): void {
    this.counters.linkUps++;
    this.log('LINK_UP', this.o.broker.url);
    this.emit('link', true);
    this.rewind(0n);
    this.sendStatus('hello'); // [P-6.6] asks for the grant; its head tells us where the hub stands
    this.armHello();
    this.pump();
  }

  /**
   * Until a channel is granted, says hello again while the link is up, backing off exponentially
   * (5 s, 10 s, 20 s ... 2 min, each jittered): a hub too busy to answer must not be answered with
   * more hellos from the whole fleet.
   */
  private armHello(attempt = 0): void {
    this.helloTimer?.cancel();
    this.helloTimer = undefined;
    if (this.channel !== undefined || !this.running) return;
    const ceiling = backoffCeiling(attempt, this.o.helloRetryMs, HELLO_RETRY_MAX_MS);
    const delay = ceiling * (0.5 + 0.5 * (this.o.random ?? Math.random)());
    this.helloTimer = this.clock.after(delay, () => {
      this.helloTimer = undefined;
      if (this.channel !== undefined || !this.link.isUp || !this.running) return;
      this.sendStatus('hello');
      this.armHello(attempt + 1);
    });
  }

  private onLinkDown(why: string): void {
    this.helloTimer?.cancel();
    this.helloTimer = undefined;
    this.log('LINK_DOWN', why);
    this.emit('link', false);
    this.drain.stop();
  }

  private rewind(seq: bigint): void {
    this.drain.rewind(seq);
  }

  private pump(): void {
    if (this.channel !== undefined && this.link.isUp) this.drain.pump(this.channel.channelId, this.channel.head.seq);
  }

  private sendSegment(bytes: Uint8Array): boolean {
    if (!this.link.isUp) return false;
    this.counters.segmentsPublished++;
    const topic = topics.segment(this.deviceHex);
    const sent = this.o.interceptSegment === undefined
      ? this.link.publish(topic, bytes)
      : this.o.interceptSegment(bytes, (payload) => this.link.publish(topic, payload));
    sent.then(
      () => this.crash('after-publish'),
      () => undefined, // the link dropped: the next connection re-sends from the receipt
    );
    return true;
  }

  private sendStatus(state: StatusState): void {
    if (!this.link.isUp) return;
    this.link.publish(topics.status(this.deviceHex), this.statusBytes(state)).catch(() => undefined);
  }

  private statusBytes(state: StatusState): Uint8Array {
    return encodeStatus({
      state,
      channelId: this.channel?.channelId ?? new Uint8Array(32),
      ackedSeq: this.receipt?.seq ?? 0n,
      outboxDepth: Math.min(this.outstanding, 0xffffffff),
      deviceTimeMs: BigInt(this.clock.now()),
    });
  }

  // ---- what the hub sends ----------------------------------------------------------------------

  private onMessage(topic: string, payload: Buffer): void {
    const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
    if (topic === topics.receipt(this.deviceHex)) this.onReceipt(bytes);
    else if (topic === topics.control(this.deviceHex)) this.onControl(bytes);
  }

  private onReceipt(bytes: Uint8Array): void {
    const c = this.channel;
    const verdict = judgeReceipt(bytes, {
      hubKey: this.o.hubKey, channelId: c?.channelId, ackedSeq: this.receipt?.seq ?? 0n, head: c?.head,
      voucherAt: (seq) => (c === undefined ? undefined : this.o.store.voucherAt(c.channelId, seq)),
      ...(this.o.backend ? { backend: this.o.backend } : {}),
    });
    if (verdict.ok === 'stale') {
      this.counters.receiptsIgnored++;
      this.log('RECEIPT_STALE');
      return;
    }
    if (!verdict.ok) {
      this.counters.receiptsIgnored++;
      this.log(verdict.code, verdict.detail);
      return;
    }
    const r = verdict.value;
    try {
      this.o.store.applyReceipt(r); // [P-5.2] delete only what a verified receipt covers
    } catch (err) {
      this.log('FLUSH_FAILED', `applying a receipt: ${(err as Error).message}`);
      return;
    }
    this.receipt = r;
    this.counters.receiptsApplied++;
    this.outstanding = Number(c!.head.seq - r.seq);
    this.checkBacklog();
    this.drain.acked(r.seq);
    this.emit('receipt', r.seq, r.cumUnits, r.cumAmount);
    this.pump();
    if (this.pending > 0n) this.scheduleFlush();
  }

  private onControl(bytes: Uint8Array): void {
    const decoded = this.o.backend === undefined
      ? decodeControl(bytes, this.o.hubKey)
      : decodeControl(bytes, this.o.hubKey, this.o.backend);
    if (!decoded.ok) {
      this.counters.controlsIgnored++;
      this.log('CONTROL_INVALID', decoded.code);
      return;
    }
    const msg = decoded.value;
    if (msg.kind === 'grant') return this.onGrant(msg);
    const c = this.channel;
    if (c === undefined || !bytesEqual(c.channelId, msg.channelId)) {
      this.counters.controlsIgnored++;
      this.log('CONTROL_WRONG_CHANNEL', msg.kind);
      return;
    }
    if (msg.kind === 'resync') this.onResync(c, msg.head);
    else if (msg.kind === 'capacity') this.setLimits(c, msg.capacity > c.capacity ? msg.capacity : c.capacity, msg.state);
    else this.onReject(c, msg);
  }

  private onGrant(msg: Extract<Control, { kind: 'grant' }>): void {
    const verdict = judgeGrant(msg, this.o.hubKey, this.o.keyPair.publicKey);
    if (!verdict.ok) {
      this.counters.controlsIgnored++;
      this.log(verdict.code, verdict.detail);
      return;
    }
    const g = verdict.value;
    const isNew = this.channel === undefined || !bytesEqual(this.channel.channelId, g.channelId);
    // A channel this device has never seen starts at the hub's head: seq 0 for a new channel, the
    // hub's head for a device restored without its outbox [P-7.1].
    const stored = this.o.store.saveChannel(
      { channelId: g.channelId, record: g.recordBytes, capacity: g.capacity, state: g.state }, g.hubHead.seq > 0n ? g.hubHead : genesisHead(g.channelId));
    if (isNew) {
      this.receipt = this.o.store.load().receipt;
      this.useStoredChannel(stored);
      this.rewind(0n);
    }
    const c = this.channel!;
    if (g.hubHead.seq > c.head.seq) {
      this.log('HUB_AHEAD', `hub at ${g.hubHead.seq}, device at ${c.head.seq}`);
      this.o.store.adoptHead(c.channelId, g.hubHead);
      c.head = g.hubHead;
      this.outstanding = 0;
      this.rewind(g.hubHead.seq);
    } else if (g.hubHead.seq < (this.receipt?.seq ?? 0n)) {
      this.log('HUB_BEHIND', `hub at ${g.hubHead.seq}, device holds a receipt for ${this.receipt?.seq}`);
    }
    if (isNew) {
      this.log('CHANNEL_GRANTED', `${toHex(c.channelId)} unit ${c.record.unit} price ${c.record.pricePerUnit} capacity ${c.capacity}`);
      this.emit('channel', toHex(c.channelId));
    }
    this.setLimits(c, g.capacity > c.capacity ? g.capacity : c.capacity, g.state);
    this.sendStatus(this.exhausted ? 'exhausted' : 'online');
    this.pump();
    if (this.pending > 0n) this.scheduleFlush();
  }

  private onResync(c: Channel, hubHead: Head): void {
    this.counters.resyncs++;
    const acked = this.receipt?.seq ?? 0n;
    if (hubHead.seq > c.head.seq) {
      this.log('HUB_AHEAD', `resync at ${hubHead.seq}, device at ${c.head.seq}`);
      return;
    }
    if (hubHead.seq < acked) {
      this.log('HUB_BEHIND', `resync at ${hubHead.seq}, device holds a receipt for ${acked}; re-sending what it still has`);
      this.rewind(acked);
    } else {
      const mine = this.o.store.hashAt(c.channelId, hubHead.seq);
      if (mine !== undefined && !bytesEqual(mine, hubHead.hash)) {
        this.log('RESYNC_MISMATCH', `seq ${hubHead.seq}`);
        return;
      }
      this.log('RESYNC', `from seq ${hubHead.seq + 1n}`);
      this.rewind(hubHead.seq);
    }
    this.pump();
  }

  private onReject(c: Channel, msg: Extract<Control, { kind: 'reject' }>): void {
    this.counters.rejects++;
    this.log('SEGMENT_REJECTED', `segment ending at ${msg.seq}: ${msg.reason}`);
    if (msg.reason === 'OVER_CAPACITY') this.setLimits(c, c.capacity, 'exhausted');
    else if (msg.reason === 'CHANNEL_CLOSED' || msg.reason === 'CHANNEL_EXPIRED') this.setLimits(c, c.capacity, 'closed');
  }

  private setLimits(c: Channel, capacity: bigint, state: ChannelState): void {
    if (capacity !== c.capacity || state !== c.state) {
      this.o.store.setChannelLimits(c.channelId, capacity, state);
      c.capacity = capacity;
      c.state = state;
    }
    if (state === 'open') {
      this.closedLogged = false;
      if (this.exhausted && unitsAllowed(c.head, c.record.pricePerUnit, capacity) > 0n) this.setExhausted(false);
      if (this.pending > 0n) this.scheduleFlush();
    } else if (state === 'exhausted') {
      this.setExhausted(true);
    }
  }

  private useStoredChannel(s: { channelId: Uint8Array; record: Uint8Array; capacity: bigint; state: ChannelState; head: Head }): void {
    const record = decodeChannelRecord(s.record);
    if (!record.ok) throw new Error(`stored channel record does not decode: ${record.code}`); // our own bytes
    this.channel = { channelId: s.channelId, record: record.value, capacity: s.capacity, state: s.state, head: s.head };
    this.outstanding = this.o.store.depth(s.channelId).vouchers;
    this.closedLogged = false;
  }

  // ---- logs and test hooks ---------------------------------------------------------------------

  private log(code: AgentCode, detail?: string): void {
    const def = AGENT_CODES[code];
    this.emit('log', detail === undefined ? { level: def.level, code, message: def.message } : { level: def.level, code, message: def.message, detail });
  }

  /** Repeated meter and link problems are logged once a minute per code, not once a poll or retry. */
  private logThrottled(code: AgentCode, detail: string): void {
    const now = this.clock.now();
    const last = this.lastMeterLog.get(code);
    if (last !== undefined && now - last < METER_LOG_INTERVAL_MS) return;
    this.lastMeterLog.set(code, now);
    this.log(code, detail);
  }

  private crash(point: CrashPoint): void {
    if (this.o.onCrashPoint === undefined) return;
    const n = (this.crashCounts.get(point) ?? 0) + 1;
    this.crashCounts.set(point, n);
    this.o.onCrashPoint(point, n);
  }
}
