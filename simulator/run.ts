// One simulation, start to finish: open the target hub, enrol the fleet, produce units for the
// given duration under the fault plan, drain, settle, verify the settlement bundles offline, and
// reconcile every channel against the ground truth.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBundle } from '../protocol/index.js';
import type { FaultKind, FaultPlan } from './faults.js';
import { Fleet } from './fleet.js';
import { reconcile, type Totals } from './ledger.js';
import type { Arrivals } from './meters.js';
import { Progress } from './progress.js';
import { buildReport, type SimReport } from './report.js';
import { createRng } from './rng.js';
import { openTarget, type RemoteTarget } from './target.js';
import { Timeline } from './timeline.js';

export interface SimOptions {
  devices: number;
  ratePerDevice: number;
  durationS: number;
  seed: number;
  arrivals: Arrivals;
  faults: FaultPlan;
  remote: RemoteTarget | undefined;
  batch: number;
  batchMs: number;
  window: number;
  /** Longest wait for the last receipts after production stops. */
  drainTimeoutS: number;
  progress: Writable & { isTTY?: boolean; columns?: number };
  log: (message: string) => void;
}

/** Capacity of every simulated channel: far beyond what a run can spend. */
const CAPACITY = 10n ** 15n;

export async function runSimulation(o: SimOptions): Promise<SimReport> {
  const rng = createRng(o.seed);
  const target = await openTarget(o.remote);
  const workDir = mkdtempSync(join(tmpdir(), 'tally-sim-'));
  const timeline = new Timeline(performance.now());
  const progress = new Progress(o.progress);
  const fleet = new Fleet({
    devices: o.devices,
    ratePerDevice: o.ratePerDevice,
    arrivals: o.arrivals,
    faults: o.faults,
    workDir,
    rng: rng.fork(1),
    timeline,
    settings: { mqttUrl: target.mqttUrl, hubKey: target.hubKey, batch: o.batch, batchMs: o.batchMs, window: o.window, ackTimeoutMs: 10_000 },
  });
  const faultRng = rng.fork(2);
  const cpuStart = process.cpuUsage();
  let poll: NodeJS.Timeout | undefined;
  try {
    const rejectedBefore = await target.api.rejectionCounts();
    const epochsBefore = new Set((await target.api.epochs()).map((e) => e.epoch));

    o.log(`enrolling ${o.devices} devices with the ${target.kind} hub`);
    await target.api.enrol(fleet.devices.map((d, i) => {
      const p = fleet.productOf(i);
      return { publicKey: d.hex, unit: p.unit, pricePerUnit: `${p.pricePerUnit}`, capacity: `${CAPACITY}` };
    }));
    await fleet.startAgents();
    fleet.driver.start();
    const started = performance.now();

    // The hub's rejection count, polled in the background for the progress line.
    let rejectedLive = 0;
    poll = setInterval(() => {
      target.api.rejectionCounts().then((now) => {
        rejectedLive = Object.entries(now).reduce((sum, [k, n]) => sum + Math.max(0, n - (rejectedBefore[k] ?? 0)), 0);
      }, () => undefined);
    }, 2000);

    // Production, with per-second faults and a progress line.
    const restarts = new Set<NodeJS.Timeout>();
    let nextBrokerRestart = o.faults['broker-restart'] ?? 0;
    const count = (k: FaultKind) => (fleet.faultCounts[k] = (fleet.faultCounts[k] ?? 0) + 1);
    for (let second = 1; second <= o.durationS; second++) {
      await sleepUntil(started + second * 1000);
      for (const d of fleet.devices) {
        if (d.agent === undefined) continue;
        if (faultRng.chance(o.faults['kill-agent'] ?? 0)) {
          count('kill-agent');
          d.kill();
          const t = setTimeout(() => {
            restarts.delete(t);
            d.start();
          }, faultRng.int(200, 2000));
          restarts.add(t);
        } else if (faultRng.chance(o.faults.disconnect ?? 0)) {
          count('disconnect');
          d.dropConnection();
        }
      }
      if (nextBrokerRestart > 0 && second >= nextBrokerRestart) {
        nextBrokerRestart += o.faults['broker-restart']!;
        if (target.restartBroker) {
          count('broker-restart');
          await target.restartBroker();
        }
      }
      const point = timeline.tick(performance.now(), Number(fleet.backlog()));
      progress.update({
        phase: 'run', elapsedS: second, durationS: o.durationS, vouchersPerSec: point.vouchersPerSec, p99Ms: point.p99Ms,
        backlog: point.backlog, rejected: rejectedLive, connected: fleet.connected(), devices: o.devices,
      });
    }

    // Drain: counters freeze, killed agents come back, every signed voucher must get its receipt.
    fleet.driver.stop();
    for (const t of restarts) clearTimeout(t);
    for (const d of fleet.devices) if (d.agent === undefined) d.start();
    const drainStart = performance.now();
    let undrained = fleet.undrained();
    while (undrained.length > 0 && performance.now() - drainStart < o.drainTimeoutS * 1000) {
      await sleep(1000);
      undrained = fleet.undrained();
      const point = timeline.tick(performance.now(), Number(fleet.backlog()));
      progress.update({
        phase: 'drain', elapsedS: (performance.now() - drainStart) / 1000, durationS: o.drainTimeoutS, vouchersPerSec: point.vouchersPerSec,
        p99Ms: point.p99Ms, backlog: point.backlog, rejected: rejectedLive, connected: fleet.connected(), devices: o.devices,
      });
    }
    clearInterval(poll);
    const elapsedS = (performance.now() - started) / 1000;
    progress.done();
    if (undrained.length > 0) o.log(`drain timed out after ${o.drainTimeoutS} s with ${undrained.length} devices still waiting for receipts`);
    await fleet.stopAgents();

    // Settle, verify offline, reconcile.
    await target.api.settle();
    const newEpochs = (await target.api.epochs()).filter((e) => !epochsBefore.has(e.epoch));
    const settled = new Map<string, Totals>();
    let bundlesVerified = newEpochs.length > 0;
    for (const e of newEpochs) {
      const verdict = verifyBundle(await target.api.bundle(e.epoch), { hubKey: target.hubKey });
      if (!verdict.ok) {
        bundlesVerified = false;
        o.log(`bundle of epoch ${e.epoch} does not verify: ${verdict.reasons.slice(0, 3).map((r) => `${r.code} ${r.detail}`).join('; ')}`);
        continue;
      }
      for (const c of verdict.summary.channels) {
        const known = settled.get(c.channelId);
        if (known === undefined || c.cumUnits > known.units) settled.set(c.channelId, { units: c.cumUnits, amount: c.cumAmount });
      }
    }
    const ours = new Set(fleet.devices.map((d) => d.channelId).filter((c): c is string => c !== undefined));
    const accepted = new Map<string, Totals>();
    let acceptedVouchers = 0n;
    for (const ch of await target.api.channels()) {
      if (!ours.has(ch.channelId)) continue;
      accepted.set(ch.channelId, { units: BigInt(ch.head.cumUnits), amount: BigInt(ch.head.cumAmount) });
      acceptedVouchers += BigInt(ch.head.seq);
    }
    const signed = new Map<string, Totals>([...fleet.ledger.signed()].map(([id, h]) => [id, { units: h.units, amount: h.amount }]));
    for (const id of [...settled.keys()]) if (!ours.has(id)) settled.delete(id);
    const reconciliation = reconcile(signed, accepted, settled);

    // Units the meters counted but no voucher carries: lost before signing.
    let unsigned = 0n;
    for (const d of fleet.devices) {
      const s = d.channelId === undefined ? 0n : signed.get(d.channelId)?.units ?? 0n;
      if (d.meter.counter > s) unsigned += d.meter.counter - s;
    }
    if (unsigned > 0n) o.log(`${unsigned} metered units were never signed`);

    const rejectedAfter = await target.api.rejectionCounts();
    const rejected: Record<string, number> = {};
    for (const [reason, n] of Object.entries(rejectedAfter)) {
      const delta = n - (rejectedBefore[reason] ?? 0);
      if (delta > 0) rejected[reason] = delta;
    }
    const cpu = process.cpuUsage(cpuStart);
    const report = buildReport({
      seed: o.seed, devices: o.devices, ratePerDevice: o.ratePerDevice, durationS: o.durationS, hub: target.kind,
      reconciliation, meteredUnits: fleet.driver.totalUnits(), unsignedUnits: unsigned,
      bundlesVerified, epochs: newEpochs.map((e) => Number(e.epoch)), rejected,
      faultPlan: o.faults, faultsInjected: fleet.faultCounts,
      vouchers: Number(acceptedVouchers), elapsedS,
      latency: timeline.latency(), timeline: timeline.points,
      process: {
        cpuUserS: round1(cpu.user / 1e6), cpuSystemS: round1(cpu.system / 1e6),
        maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      },
    });
    return report;
  } finally {
    clearInterval(poll);
    await fleet.stopAgents().catch(() => undefined);
    fleet.close();
    timeline.destroy();
    await target.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepUntil = (t: number) => sleep(Math.max(0, t - performance.now()));
const round1 = (x: number) => Math.round(x * 10) / 10;
