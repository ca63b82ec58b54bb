// A shard runs one slice of the fleet and reports to the main thread: the heads its devices
// signed, the receipt latencies, and its status. The same class runs in the main thread (small
// fleets) or in a worker thread (large fleets use the second core); only the transport differs.
import { hexToBytes } from '../protocol/index.js';
import type { FaultKind } from './faults.js';
import { Fleet, type FleetOptions } from './fleet.js';
import { LoopLagMonitor, NO_LAG, type LoopLag } from './loop-lag.js';
import { createRng } from './rng.js';
import type { FaultCounts } from './segment-faults.js';

/**
 * What a shard needs to build its slice of the fleet, in a form that crosses a process boundary:
 * the fleet's options without the callbacks, and the device settings with the hub key as hex.
 */
export type ShardInit = Omit<FleetOptions, 'settings' | 'events'> & {
  shardIndex: number;
  mqttUrl: string;
  tlsCa?: string;
  hubKeyHex: string;
  batch: number;
  batchMs: number;
  window: number;
};

export interface ShardStatus {
  connected: number;
  backlog: number;
  /** Devices still waiting for a receipt or a channel; counted only while draining. */
  undrained: number;
  undrainedCauses: { noChannel: number; unacknowledged: number; unsigned: number };
  faultCounts: FaultCounts;
  /** What the agents logged, by code: the first place to look when a run does not conserve. */
  agentLog: Record<string, number>;
  /** Event-loop lag of the shard's process since its previous batch (since the start in a final). */
  loopLag: LoopLag;
}

export interface ShardBatch {
  /** Latest signed head per channel since the last batch: [channelId, seq, units, amount]. */
  signed: Array<[string, bigint, bigint, bigint]>;
  /** Receipts since the last batch, flattened pairs: vouchers, latency ms. */
  receipts: number[];
  /** Segments a receipt covered since the last batch: their channels, and flattened quadruples of
   *  last seq, committed, published, receipt verified (machine-wide ms, stages.ts). */
  segmentChannels: string[];
  segmentTimes: number[];
  status: ShardStatus;
}

export interface ShardFinal {
  /** Per device: its channel (null if it never got one) and its meter's counter. */
  metered: Array<[string | null, bigint]>;
  status: ShardStatus;
  /** CPU and peak memory of the shard's own process (child-process shards only). */
  /** Of the shard's own process; `nice` as that process sees its priority. */
  usage?: { cpuS: number; maxRssMiB: number; nice: number };
}

const REPORT_EVERY_MS = 250;

export class Shard {
  readonly #fleet: Fleet;
  readonly #signed = new Map<string, [bigint, bigint, bigint]>();
  #receipts: number[] = [];
  #segmentChannels: string[] = [];
  #segmentTimes: number[] = [];
  /** Started with production: key derivation and connecting are not the steady state. */
  #loop: LoopLagMonitor | undefined;
  #reportTimer: NodeJS.Timeout | undefined;
  #faultTimer: NodeJS.Timeout | undefined;
  readonly #restarts = new Set<NodeJS.Timeout>();
  #draining = false;
  readonly #agentLog: Record<string, number> = {};

  constructor(
    private readonly init: ShardInit,
    private readonly post: (batch: ShardBatch) => void,
  ) {
    this.#fleet = new Fleet({
      seed: init.seed,
      from: init.from,
      to: init.to,
      ratePerDevice: init.ratePerDevice,
      arrivals: init.arrivals,
      faults: init.faults,
      workDir: init.workDir,
      settings: {
        mqttUrl: init.mqttUrl,
        ...(init.tlsCa ? { tlsCa: init.tlsCa } : {}),
        hubKey: hexToBytes(init.hubKeyHex),
        batch: init.batch,
        batchMs: init.batchMs,
        window: init.window,
        ackTimeoutMs: 10_000,
      },
      events: {
        signed: (channelId, seq, units, amount) => this.#signed.set(channelId, [seq, units, amount]),
        receipt: (vouchers, ms) => this.#receipts.push(vouchers, ms),
        segment: (channelId, lastSeq, committed, published, receipt) => {
          this.#segmentChannels.push(channelId);
          this.#segmentTimes.push(Number(lastSeq), committed, published, receipt);
        },
        log: (code) => {
          this.#agentLog[code] = (this.#agentLog[code] ?? 0) + 1;
        },
      },
    });
  }

  /** Connects every agent, then starts the meters and the per-second faults. */
  async start(): Promise<void> {
    await this.#fleet.startAgents();
    this.#loop = new LoopLagMonitor();
    this.#fleet.driver.start();
    this.#reportTimer = setInterval(() => this.#report(), REPORT_EVERY_MS);
    const rng = createRng(this.init.seed).fork(2).fork(this.init.shardIndex);
    const { faults } = this.init;
    const count = (k: FaultKind) => (this.#fleet.faultCounts[k] = (this.#fleet.faultCounts[k] ?? 0) + 1);
    if ((faults['kill-agent'] ?? 0) > 0 || (faults.disconnect ?? 0) > 0) {
      this.#faultTimer = setInterval(() => {
        for (const d of this.#fleet.devices) {
          if (d.agent === undefined) continue;
          if (rng.chance(faults['kill-agent'] ?? 0)) {
            count('kill-agent');
            d.kill();
            const t = setTimeout(
              () => {
                this.#restarts.delete(t);
                d.start();
              },
              rng.int(200, 2000),
            );
            this.#restarts.add(t);
          } else if (rng.chance(faults.disconnect ?? 0)) {
            count('disconnect');
            d.dropConnection();
          }
        }
      }, 1000);
    }
  }

  /** Production stops: counters freeze, faults stop, killed agents come back to drain. */
  stopProduction(): void {
    this.#fleet.driver.stop();
    clearInterval(this.#faultTimer);
    for (const t of this.#restarts) clearTimeout(t);
    this.#restarts.clear();
    for (const d of this.#fleet.devices) if (d.agent === undefined) d.start();
    this.#draining = true;
  }

  async finish(): Promise<ShardFinal> {
    clearInterval(this.#reportTimer);
    clearInterval(this.#faultTimer);
    await this.#fleet.stopAgents();
    this.#report();
    const metered = this.#fleet.devices.map((d): [string | null, bigint] => [d.channelId ?? null, d.meter.counter]);
    const status = { ...this.#status(), loopLag: this.#loop?.total() ?? NO_LAG };
    this.#loop?.stop();
    this.#fleet.close();
    return { metered, status };
  }

  #status(): ShardStatus {
    return {
      connected: this.#fleet.connected(),
      backlog: Number(this.#fleet.backlog()),
      ...this.#undrained(),
      faultCounts: { ...this.#fleet.faultCounts },
      agentLog: { ...this.#agentLog },
      loopLag: this.#loop?.window() ?? NO_LAG,
    };
  }

  #undrained(): Pick<ShardStatus, 'undrained' | 'undrainedCauses'> {
    if (!this.#draining)
      return {
        undrained: this.init.to - this.init.from,
        undrainedCauses: { noChannel: 0, unacknowledged: 0, unsigned: 0 },
      };
    const { total, ...undrainedCauses } = this.#fleet.undrained();
    return { undrained: total, undrainedCauses };
  }

  #report(): void {
    const signed = [...this.#signed].map(([id, [seq, units, amount]]): [string, bigint, bigint, bigint] => [
      id,
      seq,
      units,
      amount,
    ]);
    this.#signed.clear();
    const receipts = this.#receipts;
    this.#receipts = [];
    const segmentChannels = this.#segmentChannels;
    const segmentTimes = this.#segmentTimes;
    this.#segmentChannels = [];
    this.#segmentTimes = [];
    this.post({ signed, receipts, segmentChannels, segmentTimes, status: this.#status() });
  }
}
