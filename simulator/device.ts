// One virtual device: a key, a physical meter, a view of the shared outbox database, and the real
// Agent on top. It can be killed (no flush, no goodbye, like a power cut) and restarted from its
// outbox, and its clock can be skewed. Everything it signs goes into the ground-truth ledger.
import type Database from 'better-sqlite3';
import { Agent } from '../agent/agent.js';
import type { Clock } from '../agent/clock.js';
import { systemClock } from '../agent/clock.js';
import { openSqliteOutbox } from '../agent/outbox/sqlite.js';
import type { Ed25519Backend, KeyPair } from '../protocol/index.js';
import { decodeSegment, segmentHeadSeq, toHex } from '../protocol/index.js';
import type { PhysicalMeter } from './meters.js';
import type { Rng } from './rng.js';
import type { SegmentFaults } from './segment-faults.js';

export interface DeviceSettings {
  readonly mqttUrl: string;
  /** CA certificate (PEM) the broker's certificate must chain to, for mqtts:// and wss://. */
  readonly tlsCa?: string;
  readonly hubKey: Uint8Array;
  readonly batch: number;
  readonly batchMs: number;
  readonly window: number;
  readonly ackTimeoutMs: number;
}

/** Where a device reports what it signed and when receipts came back. */
export interface DeviceEvents {
  /** A new signed and committed head of the device's channel (ground truth). */
  signed(channelId: string, seq: bigint, units: bigint, amount: bigint): void;
  /** A receipt covered `vouchers` new vouchers; the oldest of them was signed `latencyMs` ago. */
  receipt(vouchers: number, latencyMs: number): void;
  /** Something the agent logged (link errors, rejections, meter problems...), by code. */
  log(code: string): void;
  /** A receipt covered a segment: when the segment was committed, first handed to the MQTT client,
   *  and its receipt verified, in machine-wide milliseconds (stages.ts). */
  segment(channelId: string, lastSeq: bigint, committedAt: number, publishedAt: number, receiptAt: number): void;
}

export interface DeviceShared {
  readonly db: Database.Database;
  readonly events: DeviceEvents;
  readonly settings: DeviceSettings;
  readonly backend: Ed25519Backend;
}

export class VirtualDevice {
  readonly hex: string;
  agent: Agent | undefined;
  channelId: string | undefined;
  headSeq = 0n;
  ackedSeq = 0n;
  kills = 0;
  /** Commit time of each committed segment batch still waiting for a receipt: [lastSeq, ms]. */
  #inflight: Array<[bigint, number]> = [];
  /** First publication of each segment still waiting for a receipt, in seq order: [lastSeq, ms]. */
  #published: Array<[bigint, number]> = [];
  readonly #clock: Clock;

  constructor(
    readonly keyPair: KeyPair,
    readonly meter: PhysicalMeter,
    private readonly shared: DeviceShared,
    private readonly rng: Rng,
    clockSkewMs: number,
    private readonly faults: SegmentFaults | undefined,
  ) {
    this.hex = toHex(keyPair.publicKey);
    this.#clock = clockSkewMs === 0 ? systemClock : { ...systemClock, now: () => Date.now() + clockSkewMs };
  }

  get backlog(): bigint {
    return this.headSeq - this.ackedSeq;
  }

  get connected(): boolean {
    return this.agent?.isConnected ?? false;
  }

  start(): void {
    const s = this.shared.settings;
    const faults = this.faults;
    const agent = new Agent({
      keyPair: this.keyPair,
      hubKey: s.hubKey,
      // A fresh view each start: a restarted agent knows only what its outbox committed.
      store: openSqliteOutbox(this.shared.db, this.hex),
      meter: this.meter.source(),
      broker: { url: s.mqttUrl, ...(s.tlsCa ? { tls: { ca: Buffer.from(s.tlsCa) } } : {}) },
      batch: s.batch,
      batchMs: s.batchMs,
      window: s.window,
      ackTimeoutMs: s.ackTimeoutMs,
      reconnectMinMs: 200,
      reconnectMaxMs: 5_000,
      clock: this.#clock,
      random: () => this.rng.next(),
      backend: this.shared.backend,
      // Every segment the agent hands to its link passes here first: the end of the agent stage.
      interceptSegment: (payload: Uint8Array, publish: (p: Uint8Array) => Promise<void>) => {
        this.#onPublish(payload);
        return faults ? faults.onSegment(payload, publish) : publish(payload);
      },
    });
    agent.on('channel', (id) => {
      this.channelId = id;
    });
    agent.on('committed', (_first, last) => this.#onCommitted(agent, last));
    agent.on('receipt', (seq) => this.#onReceipt(seq));
    agent.on('log', (entry) => this.shared.events.log(entry.code));
    this.agent = agent;
    agent.start();
  }

  /** A power cut: no flush, no last words. The counter keeps counting meanwhile. */
  kill(): void {
    this.kills++;
    this.faults?.reset();
    this.meter.detach();
    this.agent?.kill();
    this.agent?.removeAllListeners();
    this.agent = undefined;
  }

  dropConnection(): void {
    this.agent?.dropConnection();
  }

  async stop(): Promise<void> {
    await this.agent?.stop();
  }

  #onCommitted(agent: Agent, lastSeq: bigint): void {
    const ch = agent.snapshot().channel;
    if (ch === undefined) return;
    this.channelId = ch.channelId;
    this.headSeq = ch.headSeq;
    this.shared.events.signed(ch.channelId, ch.headSeq, ch.cumUnits, ch.cumAmount);
    this.#inflight.push([lastSeq, performance.now()]);
  }

  /** A re-send (after a reconnect or a RESYNC) keeps the first publication's time: the wait for
   *  the re-send is part of the broker + network stage. */
  #onPublish(payload: Uint8Array): void {
    const decoded = decodeSegment(payload);
    if (!decoded.ok) return;
    const lastSeq = segmentHeadSeq(decoded.value);
    const newest = this.#published[this.#published.length - 1];
    if (lastSeq > this.ackedSeq && (newest === undefined || newest[0] < lastSeq))
      this.#published.push([lastSeq, performance.now()]);
  }

  #onReceipt(seq: bigint): void {
    if (seq <= this.ackedSeq) return;
    const vouchers = Number(seq - this.ackedSeq);
    this.ackedSeq = seq;
    const now = performance.now();
    const wall = (ms: number) => performance.timeOrigin + ms;
    while (this.#published.length > 0 && this.#published[0]![0] <= seq) {
      const [lastSeq, publishedAt] = this.#published.shift()!;
      // The segment's commit: the first committed batch that reaches its last seq.
      const committedAt = this.#inflight.find(([last]) => last >= lastSeq)?.[1];
      if (committedAt !== undefined && this.channelId !== undefined)
        this.shared.events.segment(this.channelId, lastSeq, wall(committedAt), wall(publishedAt), wall(now));
    }
    let oldest: number | undefined;
    while (this.#inflight.length > 0 && this.#inflight[0]![0] <= seq) {
      const [, at] = this.#inflight.shift()!;
      oldest ??= at;
    }
    // Latency of a receipt = sign -> receipt of the oldest voucher batch it covers.
    if (oldest !== undefined) this.shared.events.receipt(vouchers, now - oldest);
  }
}
