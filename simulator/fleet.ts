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

/** Longest wait for one wave of agents to connect before the next starts. */
const WAVE_WAIT_MS = 10_000;

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

  /** Starts the agents in waves so that the broker is not hit by every CONNECT at once. The next
   *  wave waits until most of this one is connected and subscribed (or WAVE_WAIT_MS has passed),
   *  so the start is paced by the broker and the hub, not by a clock. The embedded hub checks a
   *  signature per CONNECT: several fleet processes starting on a timer opened connections faster
   *  than it could check them, and the timed-out devices' retries kept it saturated. nats-server
   *  makes each persistent session's subscriptions JetStream consumers, a few hundred per second
   *  on a small machine; a herd of thousands of CONNECTs at once makes it refuse them ("Unable to
   *  add JetStream consumer"), the devices retry, and the herd never ends. */
  async startAgents(): Promise<void> {
    const wave = 250;
    for (let i = 0; i < this.devices.length; i += wave) {
      const started = this.devices.slice(i, i + wave);
      for (const d of started) d.start();
      const until = Date.now() + WAVE_WAIT_MS;
      do await new Promise((r) => setTimeout(r, 25));
      while (Date.now() < until && started.filter((d) => d.connected).length < started.length * 0.9);
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
