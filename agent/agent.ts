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
// This file holds the public class and the wiring; its options and events are in options.ts. The
// work is done by three parts that share one AgentState (state.ts): production.ts (steps 1-2),
// uplink.ts (step 3: the link, the drain, status and hello) and downlink-handler.ts (step 4 and
// the hub's control messages).
import { EventEmitter } from 'node:events';
import { clientIdForDevice, makeMqttCredential, toHex, topics } from '../protocol/index.js';
import { systemClock, type Clock } from './clock.js';
import { AGENT_CODES, type AgentCode } from './codes.js';
import type { CrashPoint } from './config.js';
import { AGENT_DEFAULTS } from './defaults.js';
import { DownlinkHandler } from './downlink-handler.js';
import { Drain } from './drain.js';
import { MqttLink } from './link.js';
import { NANO } from './meter/decimal.js';
import { MeterWatch } from './meter-watch.js';
import type { AgentEvents, AgentOptions } from './options.js';
import { Production } from './production.js';
import {
  newCounters,
  type AgentContext,
  type AgentCounters,
  type AgentState,
  type ResolvedAgentOptions,
} from './state.js';
import { HELLO_RETRY_MS, Uplink } from './uplink.js';

const METER_LOG_INTERVAL_MS = 60_000;

export type { AgentEvents, AgentOptions } from './options.js';

export class Agent extends EventEmitter<AgentEvents> {
  readonly deviceHex: string;
  readonly counters: AgentCounters = newCounters();

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
  private readonly meterWatch: MeterWatch;
  private lastMeterLog = new Map<AgentCode, number>();
  private crashCounts = new Map<CrashPoint, number>();

  constructor(options: AgentOptions) {
    super();
    this.o = {
      batch: AGENT_DEFAULTS.batch,
      batchMs: AGENT_DEFAULTS.batchMs,
      window: AGENT_DEFAULTS.window,
      maxBacklog: AGENT_DEFAULTS.maxBacklog,
      ackTimeoutMs: AGENT_DEFAULTS.ackTimeoutMs,
      meterStaleMs: AGENT_DEFAULTS.meterStaleMs,
      meterFrozenMs: AGENT_DEFAULTS.meterFrozenMs,
      helloRetryMs: HELLO_RETRY_MS,
      reconnectMinMs: AGENT_DEFAULTS.reconnectMinMs,
      reconnectMaxMs: AGENT_DEFAULTS.reconnectMaxMs,
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
          // The agent's backend keeps the key object it signs vouchers with; the default one would
          // rebuild it per credential once more keys than its cache holds sign in one process.
          ...(this.o.backend ? { backend: this.o.backend } : {}),
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
    this.meterWatch = new MeterWatch({
      staleMs: this.o.meterStaleMs,
      frozenMs: this.o.meterFrozenMs,
      clock: this.clock,
      store: this.o.store,
      log: ctx.log,
    });
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
    this.meterWatch.start(snap.meterHealth);
    this.o.meter.start(
      {
        reading: (v, nanos) => {
          this.production.onReading(v, nanos);
          this.meterWatch.reading(v * NANO + (nanos ?? 0n));
        },
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
    this.meterWatch.stop();
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
    this.meterWatch.stop();
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
      meter: { source: this.o.meter.description, health: this.meterWatch.state, since: this.meterWatch.since },
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
