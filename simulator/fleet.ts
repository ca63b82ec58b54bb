// The fleet: N virtual devices with their keys, meters and faults, over one shared outbox
// database. It knows nothing of hubs or reports; run.ts drives it.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { keyPairFromSeed } from '../protocol/index.js';
import { VirtualDevice, type DeviceSettings } from './device.js';
import type { FaultPlan } from './faults.js';
import { Ledger } from './ledger.js';
import { MeterDriver, PhysicalMeter, type Arrivals } from './meters.js';
import type { Rng } from './rng.js';
import { SegmentFaults, type FaultCounts } from './segment-faults.js';
import type { Timeline } from './timeline.js';

/** The mix of metered goods: unit and integer price per unit, in minor units. */
export const PRODUCTS = [
  { unit: 'Wh', pricePerUnit: 25n },
  { unit: 'L', pricePerUnit: 3n },
  { unit: 'KiB', pricePerUnit: 1n },
  { unit: 's', pricePerUnit: 10n },
] as const;

export interface FleetOptions {
  devices: number;
  ratePerDevice: number;
  arrivals: Arrivals;
  faults: FaultPlan;
  settings: DeviceSettings;
  workDir: string;
  rng: Rng;
  timeline: Timeline;
}

export class Fleet {
  readonly devices: VirtualDevice[] = [];
  readonly ledger = new Ledger();
  readonly driver = new MeterDriver(100);
  readonly faultCounts: FaultCounts = {};
  readonly db: Database.Database;

  constructor(readonly options: FleetOptions) {
    // One outbox database for the whole fleet. synchronous=OFF: the simulated devices' disks are
    // this process's page cache; a simulated kill drops the agent, not the operating system.
    this.db = new Database(join(options.workDir, 'fleet-outbox.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = OFF');
    const { rng } = options;
    const withSegmentFaults = SegmentFaults.applies(options.faults);
    const skewMaxMs = (options.faults['clock-skew'] ?? 0) * 1000;
    for (let i = 0; i < options.devices; i++) {
      const deviceRng = rng.fork(i);
      const seed = new Uint8Array(32);
      for (let b = 0; b < 32; b++) seed[b] = deviceRng.int(0, 255);
      const meter = this.driver.add(new PhysicalMeter(options.ratePerDevice, options.arrivals, deviceRng.fork(1)));
      const skew = skewMaxMs > 0 ? Math.round((deviceRng.next() * 2 - 1) * skewMaxMs) : 0;
      if (skew !== 0) this.faultCounts['clock-skew'] = (this.faultCounts['clock-skew'] ?? 0) + 1;
      const faults = withSegmentFaults ? new SegmentFaults(options.faults, deviceRng.fork(2), this.faultCounts) : undefined;
      this.devices.push(
        new VirtualDevice(keyPairFromSeed(seed), meter, { db: this.db, ledger: this.ledger, timeline: options.timeline, settings: options.settings }, deviceRng.fork(3), skew, faults),
      );
    }
  }

  productOf(index: number) {
    return PRODUCTS[index % PRODUCTS.length]!;
  }

  /** Starts the agents in waves so that the broker is not hit by every CONNECT at once. */
  async startAgents(onProgress?: (started: number) => void): Promise<void> {
    const wave = 250;
    for (let i = 0; i < this.devices.length; i += wave) {
      for (const d of this.devices.slice(i, i + wave)) d.start();
      onProgress?.(Math.min(i + wave, this.devices.length));
      await new Promise((r) => setTimeout(r, 20));
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

  /** Devices whose signed head is not covered by a receipt yet, or that have no channel. */
  undrained(): VirtualDevice[] {
    return this.devices.filter((d) => d.agent === undefined || d.channelId === undefined || d.backlog > 0n || d.agent.snapshot().pendingUnits > 0n);
  }

  async stopAgents(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.stop().catch(() => undefined)));
  }

  close(): void {
    this.db.close();
  }
}
