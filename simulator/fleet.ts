// A slice of the fleet: devices [from, to) with their keys, physical meters and wire faults, over
// one outbox database. It knows nothing of hubs, threads or reports; a Shard drives it.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { createNodeBackend } from '../protocol/index.js';
import { VirtualDevice, type DeviceEvents, type DeviceSettings } from './device.js';
import type { FaultPlan } from './faults.js';
import { deviceKeyPair, deviceRng } from './identity.js';
import { MeterDriver, PhysicalMeter, type Arrivals } from './meters.js';
import { SegmentFaults, type FaultCounts } from './segment-faults.js';
import { brokerUrlFor } from './brokers.js';

export interface FleetOptions {
  seed: number;
  from: number;
  to: number;
  ratePerDevice: number;
  arrivals: Arrivals;
  faults: FaultPlan;
  settings: DeviceSettings;
  workDir: string;
  events: DeviceEvents;
}

/** Agents started at once; the next wave waits for this one to connect, at most WAVE_MAX_WAIT_MS. */
const WAVE = 250;
const WAVE_MAX_WAIT_MS = 1_000;

export class Fleet {
  readonly devices: VirtualDevice[] = [];
  readonly driver: MeterDriver;
  readonly faultCounts: FaultCounts = {};
  readonly db: Database.Database;

  constructor(readonly options: FleetOptions) {
    const count = options.to - options.from;
    // Large fleets tick their meters less often: the same units, fewer wake-ups.
    this.driver = new MeterDriver(count > 2000 ? 250 : 100);
    // One outbox database per slice. synchronous=OFF: the simulated devices' disks are this
    // process's page cache; a simulated kill drops the agent, not the operating system.
    this.db = new Database(join(options.workDir, `fleet-outbox-${options.from}.db`));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = OFF');
    const withSegmentFaults = SegmentFaults.applies(options.faults);
    const skewMaxMs = (options.faults['clock-skew'] ?? 0) * 1000;
    // A device signs with one key, so the default backend caches a handful of secret keys; a
    // fleet in one process signs with all of them, and rebuilding a key object per signature
    // would cost more than the signature itself.
    const backend = createNodeBackend({ maxSecretKeys: count + 16, maxPublicKeys: 64 });
    for (let i = options.from; i < options.to; i++) {
      const rng = deviceRng(options.seed, i);
      const meter = this.driver.add(new PhysicalMeter(options.ratePerDevice, options.arrivals, rng.fork(1)));
      const skew = skewMaxMs > 0 ? Math.round((rng.next() * 2 - 1) * skewMaxMs) : 0;
      if (skew !== 0) this.faultCounts['clock-skew'] = (this.faultCounts['clock-skew'] ?? 0) + 1;
      const faults = withSegmentFaults ? new SegmentFaults(options.faults, rng.fork(2), this.faultCounts) : undefined;
      this.devices.push(
        new VirtualDevice(
          deviceKeyPair(options.seed, i, backend),
          meter,
          {
            db: this.db,
            events: options.events,
            settings: { ...options.settings, mqttUrl: brokerUrlFor(options.settings.mqttUrl, i) },
            backend,
          },
          rng.fork(3),
          skew,
          faults,
        ),
      );
    }
  }

  /**
   * Starts the agents in waves, the next one once nine in ten of those started are connected (or
   * after WAVE_MAX_WAIT_MS, so that an unreachable broker only slows the start). Paced by the hub
   * rather than by the clock: several fleet processes starting at once used to open connections
   * faster than the hub could authenticate them (each CONNECT is a signature check), and the
   * timed-out devices' retries kept it saturated long after the start.
   */
  async startAgents(): Promise<void> {
    for (let i = 0; i < this.devices.length; i += WAVE) {
      for (const d of this.devices.slice(i, i + WAVE)) d.start();
      const started = Math.min(i + WAVE, this.devices.length);
      const until = Date.now() + WAVE_MAX_WAIT_MS;
      do await new Promise((r) => setTimeout(r, 25));
      while (this.connected() < started * 0.9 && Date.now() < until);
    }
  }

  connected(): number {
    let n = 0;
    for (const d of this.devices) if (d.connected) n++;
    return n;
  }

  backlog(): bigint {
    let n = 0n;
    for (const d of this.devices) n += d.backlog;
    return n;
  }

  /** Devices whose signed head is not covered by a receipt yet, by cause (for a drain that stalls). */
  undrained(): { total: number; noChannel: number; unacknowledged: number; unsigned: number } {
    const out = { total: 0, noChannel: 0, unacknowledged: 0, unsigned: 0 };
    for (const d of this.devices) {
      const cause =
        d.agent === undefined || d.channelId === undefined
          ? 'noChannel'
          : d.backlog > 0n
            ? 'unacknowledged'
            : d.agent.snapshot().pendingUnits > 0n
              ? 'unsigned'
              : undefined;
      if (cause === undefined) continue;
      out.total++;
      out[cause]++;
    }
    return out;
  }

  async stopAgents(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.stop().catch(() => undefined)));
  }

  close(): void {
    this.db.close();
  }
}
