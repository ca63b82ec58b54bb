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
//
// This file holds the public class and the wiring. The work is done by three parts that share one
// AgentState (state.ts): production.ts (steps 1-2), uplink.ts (step 3: the link, the drain, status
// and hello) and downlink-handler.ts (step 4 and the hub's control messages).
import { EventEmitter } from 'node:events';
import {
  clientIdForDevice,
  makeMqttCredential,
  toHex,
  topics,
  type Ed25519Backend,
  type KeyPair,
} from '../protocol/index.js';
import { systemClock, type Clock } from './clock.js';
import { AGENT_CODES, type AgentCode, type AgentLogEntry } from './codes.js';
import type { CrashPoint } from './config.js';
import { DownlinkHandler } from './downlink-handler.js';
import { Drain } from './drain.js';
import { MqttLink } from './link.js';
import type { MeterSource } from './meter/index.js';
import type { OutboxStore } from './outbox/types.js';
import { Production } from './production.js';
import type { AgentContext, AgentState, ResolvedAgentOptions } from './state.js';
import { HELLO_RETRY_MS, Uplink } from './uplink.js';

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

export interface AgentEvents {
  log: [entry: AgentLogEntry];
  channel: [channelIdHex: string];
  committed: [firstSeq: bigint, lastSeq: bigint];
  receipt: [seq: bigint, cumUnits: bigint, cumAmount: bigint];
  link: [up: boolean];
}

const METER_LOG_INTERVAL_MS = 60_000;

export class Agent extends EventEmitter<AgentEvents> {
  readonly deviceHex: string;
  readonly counters = {
    unitsMetered: 0n,
    vouchersCommitted: 0n,
    segmentsCommitted: 0,
    segmentsPublished: 0,
    receiptsApplied: 0,
    receiptsIgnored: 0,
    controlsIgnored: 0,
    rejects: 0,
    resyncs: 0,
    meterProblems: 0,
    counterResets: 0,
    linkUps: 0,
  };

  private readonly o: ResolvedAgentOptions;
  private readonly clock: Clock;
  private readonly state: AgentState = {
    running: false,
    channel: undefined,
    receipt: undefined,
    outstanding: 0,
    closedLogged: false,
  };
  private readonly link: MqttLink;
  private readonly drain: Drain;
  private readonly uplink: Uplink;
  private readonly production: Production;
  private readonly downlink: DownlinkHandler;
  private lastMeterLog = new Map<AgentCode, number>();
  private crashCounts = new Map<CrashPoint, number>();

  constructor(options: AgentOptions) {
    super();
    this.o = {
      batch: 64,
      batchMs: 1000,
      window: 8,
      maxBacklog: 2_000_000,
      ackTimeoutMs: 15_000,
      helloRetryMs: HELLO_RETRY_MS,
      reconnectMinMs: 500,
      reconnectMaxMs: 60_000,
      clock: systemClock,
      ...options,
    };
    this.clock = this.o.clock;
    this.deviceHex = toHex(options.keyPair.publicKey);
    const dev = this.deviceHex;
    // [P-6.4] the hub takes a credential once: each attempt's issuedAtMs is newer than the last,
    // even within one millisecond or when the clock steps back.
    let lastIssuedAtMs = 0n;
    this.link = new MqttLink({
      url: this.o.broker.url,
      clientId: clientIdForDevice(dev),
      credential: () => {
        const now = BigInt(this.clock.now());
        lastIssuedAtMs = now > lastIssuedAtMs ? now : lastIssuedAtMs + 1n;
        return makeMqttCredential({
          hubKey: this.o.hubKey,
          deviceSecretKey: this.o.keyPair.secretKey,
          devicePublicKey: this.o.keyPair.publicKey,
          issuedAtMs: lastIssuedAtMs,
        });
      },
      will: () => ({ topic: topics.status(dev), payload: this.uplink.statusBytes('offline') }), // [P-6.1] last will
      subscriptions: [topics.receipt(dev), topics.control(dev)],
      reconnectMinMs: this.o.reconnectMinMs,
      reconnectMaxMs: this.o.reconnectMaxMs,
      clock: this.clock,
      ...(this.o.broker.tls ? { tls: this.o.broker.tls } : {}),
      ...(this.o.random ? { random: this.o.random } : {}),
    });
    this.drain = new Drain({
      store: this.o.store,
      window: this.o.window,
      ackTimeoutMs: this.o.ackTimeoutMs,
      clock: this.clock,
      send: (bytes) => this.uplink.sendSegment(bytes),
      ackedSeq: () => this.state.receipt?.seq ?? 0n,
      onTimeout: (waiting) => this.log('ACK_TIMEOUT', `${waiting} segments after seq ${this.state.receipt?.seq ?? 0n}`),
      onError: (msg) => this.log('FLUSH_FAILED', msg),
    });
    const ctx: AgentContext = {
      o: this.o,
      clock: this.clock,
      deviceHex: dev,
      counters: this.counters,
      state: this.state,
      events: this,
      log: (code, detail) => this.log(code, detail),
      logThrottled: (code, detail) => this.logThrottled(code, detail),
      crash: (point) => this.crash(point),
    };
    this.uplink = new Uplink(ctx, this.link, this.drain);
    this.production = new Production(ctx, this.uplink);
    this.downlink = new DownlinkHandler(ctx, this.uplink, this.production);
    this.link.on('up', () => this.uplink.onLinkUp());
    this.link.on('down', (why) => this.uplink.onLinkDown(why));
    this.link.on('error', (msg) => this.logThrottled('LINK_ERROR', msg));
    this.link.on('message', (topic, payload) => this.downlink.onMessage(topic, payload));
  }

  /** Loads the committed state, starts the meter and the link. */
  start(): void {
    if (this.state.running) return;
    this.state.running = true;
    const snap = this.o.store.load();
    this.production.load(snap.meter);
    this.state.receipt = snap.receipt;
    if (snap.channel !== undefined) this.downlink.useStoredChannel(snap.channel);
    this.o.meter.start(
      {
        reading: (v) => this.production.onReading(v),
        problem: (code, detail) => {
          this.counters.meterProblems++;
          this.logThrottled(code, detail);
        },
      },
      snap.meter.baseline,
    );
    this.link.start();
    this.production.flushSoonIfPending();
  }

  /** Clean shutdown: read the meter once more, sign and commit every pending unit, publish what
   *  the window allows, say offline, close. The store stays open: its owner closes it. */
  async stop(): Promise<void> {
    if (!this.state.running) return;
    await this.o.meter.pollNow().catch(() => undefined);
    await this.o.meter.stop();
    this.state.running = false;
    this.production.cancelTimer();
    this.uplink.cancelHello();
    this.drain.stop();
    this.production.flushAll();
    if (this.link.isUp) {
      this.uplink.pump();
      await this.link.publish(topics.status(this.deviceHex), this.uplink.statusBytes('offline')).catch(() => undefined);
    }
    await this.link.stop(true);
  }

  /**
   * A power cut, for the simulator: stops at once with no flush, no last words and no goodbye to
   * the broker (which then publishes the last will). Whatever was committed stays in the outbox
   * for the next Agent over the same store; everything else dies with this object.
   */
  kill(): void {
    if (!this.state.running) return;
    this.state.running = false;
    this.production.cancelTimer();
    this.uplink.cancelHello();
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
    const c = this.state.channel;
    const receipt = this.state.receipt;
    return {
      deviceKey: this.deviceHex,
      connected: this.link.isUp,
      channel:
        c === undefined
          ? undefined
          : {
              channelId: toHex(c.channelId),
              unit: c.record.unit,
              pricePerUnit: c.record.pricePerUnit,
              capacity: c.capacity,
              state: c.state,
              headSeq: c.head.seq,
              cumUnits: c.head.cumUnits,
              cumAmount: c.head.cumAmount,
              balanceLeft: c.capacity > c.head.cumAmount ? c.capacity - c.head.cumAmount : 0n,
            },
      exhausted: this.production.isExhausted,
      ackedSeq: receipt?.seq ?? 0n,
      ackedUnits: receipt?.cumUnits ?? 0n,
      outboxDepth: this.state.outstanding,
      pendingUnits: this.production.pendingUnits,
      counters: { ...this.counters },
    };
  }

  // ---- logs and test hooks ---------------------------------------------------------------------

  private log(code: AgentCode, detail?: string): void {
    const def = AGENT_CODES[code];
    this.emit(
      'log',
      detail === undefined
        ? { level: def.level, code, message: def.message }
        : { level: def.level, code, message: def.message, detail },
    );
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
