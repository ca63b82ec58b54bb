// One simulation, start to finish: open the target hub, enrol the fleet, produce units for the
// given duration under the fault plan, drain, settle, verify the settlement bundles offline, and
// reconcile every channel against the ground truth.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { getHeapStatistics } from 'node:v8';
import type { NofileLimit } from '../common/nofile.js';
import { createNodeBackend, toHex } from '../protocol/index.js';
import type { BrokerChoice } from './broker-choice.js';
import type { FaultKind, FaultPlan } from './faults.js';
import { deviceKeyPair, productOf } from './identity.js';
import { Ledger, reconcile, type Totals } from './ledger.js';
import { LoopLagMonitor, NO_LAG } from './loop-lag.js';
import type { Arrivals } from './meters.js';
import { planFleet } from './fleet-plan.js';
import { Progress } from './progress.js';
import { buildReport, type SimReport } from './report.js';
import type { FaultCounts } from './segment-faults.js';
import type { ShardBatch, ShardFinal, ShardStatus } from './shard.js';
import { localShard, processShard, type ShardHost } from './shard-host.js';
import { settleAndVerify } from './settle.js';
import { StageJoin } from './stages.js';
import { openTarget, type RemoteTarget, type Target } from './target.js';
import { openClusterTarget, type ClusterTarget } from './cluster-target.js';
import type { Logger } from '../common/log.js';
import { Timeline } from './timeline.js';

export interface SimOptions {
  devices: number;
  ratePerDevice: number;
  durationS: number;
  seed: number;
  arrivals: Arrivals;
  faults: FaultPlan;
  remote: RemoteTarget | undefined;
  /** An embedded cluster of this many hubs on PostgreSQL (cluster-target.ts); 0 = one hub. */
  hubs?: number;
  /** The embedded cluster's broker: 1 aedes node in this process, or a nats-server cluster of 3+. */
  /** With hubs: the cluster's broker (default one aedes node). */
  clusterBroker?: BrokerChoice;
  batch: number;
  batchMs: number;
  window: number;
  /** Child processes for the fleet; 0 runs it in this process beside the hub. */
  workers: number;
  /** The count was not given: large fleets are spread over more processes (fleet-plan.ts). */
  autoWorkers?: boolean;
  /** Niceness of the fleet processes (default 0): with 10, a fleet sharing the machine yields the
   *  CPU to the hub, as devices with CPUs of their own would. */
  fleetNice?: number;
  /** This process's file-descriptor limit (the fleet processes inherit it); undefined if unknown. */
  descriptorLimit?: NofileLimit | undefined;
  /** Longest wait for the last receipts after production stops. */
  drainTimeoutS: number;
  /** Where the live progress line goes (shown only on a terminal); none with --quiet. */
  progress?: Writable & { isTTY?: boolean; columns?: number };
  log: (message: string) => void;
  /** Where the embedded hub logs (tally-sim --log-level); silent without one. */
  logger?: Logger;
}

/** Capacity of every simulated channel: far beyond what a run can spend. */
const CAPACITY = 10n ** 15n;

/** Fleets from this size up run in a child process by default: a core and a file-descriptor limit
 *  of their own. */
export const WORKER_THRESHOLD = 1000;

/** Descriptors a process needs besides its sockets to devices: the runtime, SQLite, pipes, HTTP. */
export const DESCRIPTOR_MARGIN = 256;

export async function runSimulation(o: SimOptions): Promise<SimReport> {
  validateOptions(o);
  const cluster: ClusterTarget | undefined = o.hubs
    ? await openClusterTarget(o.hubs, o.log, o.clusterBroker)
    : undefined;
  const target: Target = cluster ?? (await openTarget(o.remote, o.logger));
  const workDir = mkdtempSync(join(tmpdir(), 'tally-sim-'));
  const timeline = new Timeline(performance.now());
  const ledger = new Ledger();
  const stages = new StageJoin();
  // This process's loop: the embedded hub's (and the fleet's too, with --workers 0), from the
  // start of production (enrolment and connecting are not the steady state).
  let mainLoop: LoopLagMonitor | undefined;
  let fleetLoopMs = 0;
  const progress = new Progress(o.progress ?? process.stderr, o.progress?.isTTY === true);
  // Each shard's latest status; undefined until it reports (again, after production stops).
  const statuses: Array<ShardStatus | undefined> = [];
  const cpuStart = process.cpuUsage();
  const shards: ShardHost[] = [];
  let poll: NodeJS.Timeout | undefined;
  try {
    const rejectedBefore = await target.api.rejectionCounts();
    const epochsBefore = new Set((await target.api.epochs()).map((e) => e.epoch));

    const baseRssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
    // The V8 heap's share of the RSS peak, sampled once a second: it is sized by the allocation
    // rate and the collector, not by the devices, and it is most of what a small fleet adds.
    let maxHeapBytes = getHeapStatistics().total_heap_size;
    o.log(`enrolling ${o.devices} devices with the ${target.kind} hub`);
    const keyBackend = createNodeBackend({ maxSecretKeys: 1 });
    await target.api.enrol(o.devices, (from, to) => {
      const out = [];
      for (let i = from; i < to; i++) {
        const p = productOf(i);
        out.push({
          publicKey: toHex(deviceKeyPair(o.seed, i, keyBackend).publicKey),
          unit: p.unit,
          pricePerUnit: `${p.pricePerUnit}`,
          capacity: `${CAPACITY}`,
        });
      }
      return out;
    });

    target.onSegmentStages?.((id, seq, arrived, committed, receipt) =>
      stages.hubSide(id, seq, arrived, committed, receipt),
    );
    const onBatch = (index: number) => (b: ShardBatch) => {
      for (const [id, seq, units, amount] of b.signed) ledger.recordSigned(id, { seq, units, amount });
      for (let k = 0; k < b.receipts.length; k += 2) timeline.recordReceipt(b.receipts[k]!, b.receipts[k + 1]!);
      const t = b.segmentTimes;
      b.segmentChannels.forEach((id, i) => {
        stages.fleetSide(id, t[4 * i]!, t[4 * i + 1]!, t[4 * i + 2]!, t[4 * i + 3]!);
        cluster?.receiptVerified(id, t[4 * i + 3]!);
      });
      fleetLoopMs = Math.max(fleetLoopMs, b.status.loopLag.maxMs);
      statuses[index] = b.status;
    };
    const plan = planFleet({
      devices: o.devices,
      requested: o.workers,
      auto: o.autoWorkers === true,
      limit: o.descriptorLimit,
      margin: DESCRIPTOR_MARGIN,
      embeddedHub: target.kind === 'embedded',
    });
    if (plan.reason) o.log(`fleet in ${plan.workers} process(es): ${plan.reason}`);
    const workers = plan.workers;
    const slices = Math.max(1, workers);
    for (let s = 0; s < slices; s++) {
      const init = {
        shardIndex: s,
        seed: o.seed,
        from: Math.floor((s * o.devices) / slices),
        to: Math.floor(((s + 1) * o.devices) / slices),
        ratePerDevice: o.ratePerDevice,
        arrivals: o.arrivals,
        faults: o.faults,
        mqttUrl: target.mqttUrl,
        ...(target.tlsCa ? { tlsCa: target.tlsCa } : {}),
        hubKeyHex: toHex(target.hubKey),
        batch: o.batch,
        batchMs: o.batchMs,
        window: o.window,
        workDir,
      };
      shards.push(workers > 0 ? processShard(init, onBatch(s), o.fleetNice ?? 0) : localShard(init, onBatch(s)));
    }
    o.log(`connecting ${o.devices} agents${workers > 0 ? ` in ${workers} fleet process(es)` : ''}`);
    await Promise.all(shards.map((s) => s.start()));
    mainLoop = new LoopLagMonitor();
    const runCpuStart = process.cpuUsage();
    const started = performance.now();

    // The hub's rejection count, polled in the background for the progress line.
    let rejectedLive = 0;
    poll = setInterval(() => {
      target.api.rejectionCounts().then(
        (now) => {
          rejectedLive = Object.entries(now).reduce(
            (sum, [k, n]) => sum + Math.max(0, n - (rejectedBefore[k] ?? 0)),
            0,
          );
        },
        () => undefined,
      );
    }, 2000);
    const sum = (f: (s: ShardStatus) => number) => statuses.reduce((a, s) => a + (s ? f(s) : 0), 0);
    const show = (phase: string, elapsedS: number, durationS: number) => {
      // Not process.memoryUsage(): it reads /proc for the RSS and throws EMFILE when the hub has used
      // every descriptor, which is when this run most needs to go on and report.
      maxHeapBytes = Math.max(maxHeapBytes, getHeapStatistics().total_heap_size);
      const point = timeline.tick(
        performance.now(),
        sum((s) => s.backlog),
        {
          hubMs: mainLoop?.window().maxMs ?? 0,
          fleetMs: fleetLoopMs,
        },
      );
      fleetLoopMs = 0;
      stages.prune();
      progress.update({
        phase,
        elapsedS,
        durationS,
        vouchersPerSec: point.vouchersPerSec,
        p99Ms: point.p99Ms,
        backlog: point.backlog,
        rejected: rejectedLive,
        connected: sum((s) => s.connected),
        devices: o.devices,
      });
    };

    // Production. Faults that act per device live in the shards; a broker restart lives here.
    let brokerRestarts = 0;
    let nextBrokerRestart = o.faults['broker-restart'] ?? 0;
    let nextKill = o.faults['kill-hub'] ?? 0;
    let nextNodeDown = o.faults['broker-node-down'] ?? 0;
    let kills = 0;
    const steadyFromS = Math.floor(o.durationS / 3);
    const steadyMark = async () => ({
      cpu: process.cpuUsage(),
      vouchers: timeline.vouchers,
      commits: await target.groupCommits?.(),
    });
    let steadyStart = await steadyMark();
    for (let second = 1; second <= o.durationS; second++) {
      if (second - 1 === steadyFromS) steadyStart = await steadyMark();
      await sleepUntil(started + second * 1000);
      if (nextBrokerRestart > 0 && second >= nextBrokerRestart && target.restartBroker) {
        nextBrokerRestart += o.faults['broker-restart']!;
        brokerRestarts++;
        await target.restartBroker();
      }
      // A kill waits while the previous failover is still being timed.
      if (cluster && nextKill > 0 && second >= nextKill && (await cluster.killHub(second))) {
        nextKill += o.faults['kill-hub']!;
        kills++;
      }
      if (cluster && nextNodeDown > 0 && second >= nextNodeDown) {
        nextNodeDown += o.faults['broker-node-down']!;
        void cluster.brokerNodeDown().catch((err: unknown) => o.log(`broker node restart failed: ${String(err)}`));
      }
      show('run', second, o.durationS);
    }

    const steadyCpu = process.cpuUsage(steadyStart.cpu);
    const steadyVouchers = timeline.vouchers - steadyStart.vouchers;
    const steadyCpuS = (steadyCpu.user + steadyCpu.system) / 1e6;
    const steadyCommitsEnd = await target.groupCommits?.();
    const steadyCommits =
      steadyCommitsEnd !== undefined && steadyStart.commits !== undefined
        ? steadyCommitsEnd - steadyStart.commits
        : null;

    // Drain: every signed voucher must get its receipt.
    for (const s of shards) s.stopProduction();
    await cluster?.settled();
    const drainStart = performance.now();
    statuses.fill(undefined);
    while (performance.now() - drainStart < o.drainTimeoutS * 1000) {
      await sleep(1000);
      show('drain', (performance.now() - drainStart) / 1000, o.drainTimeoutS);
      if (statuses.length === slices && statuses.every((s) => s !== undefined) && sum((s) => s.undrained) === 0) break;
    }
    const elapsedS = (performance.now() - started) / 1000;
    progress.done();
    // Production and drain only: settling and verifying afterwards are not what devices wait for.
    const mainLag = mainLoop?.total() ?? NO_LAG;
    const runCpu = process.cpuUsage(runCpuStart);
    const undrained = sum((s) => s.undrained);
    if (undrained > 0) {
      const why = (k: keyof ShardStatus['undrainedCauses']) => sum((s) => s.undrainedCauses[k]);
      o.log(
        `drain timed out after ${o.drainTimeoutS} s with ${undrained} devices not drained: ${why('noChannel')} without a channel, ` +
          `${why('unacknowledged')} waiting for receipts, ${why('unsigned')} holding unsigned units`,
      );
    }
    clearInterval(poll);
    const finals: ShardFinal[] = await Promise.all(shards.map((s) => s.finish()));
    shards.length = 0;

    // Settle, verify offline, reconcile.
    const ours = new Set(finals.flatMap((f) => f.metered.map(([id]) => id)).filter((id): id is string => id !== null));
    const { settled, accepted, acceptedVouchers, epochs, bundlesVerified } = await settleAndVerify(
      target,
      epochsBefore,
      ours,
      o.log,
    );
    const signed = new Map<string, Totals>(
      [...ledger.signed()].map(([id, h]) => [id, { units: h.units, amount: h.amount }]),
    );
    const reconciliation = reconcile(signed, accepted, settled);

    // Units the meters counted but no voucher carries: lost before signing.
    let metered = 0n;
    let unsigned = 0n;
    for (const [id, counter] of finals.flatMap((f) => f.metered)) {
      metered += counter;
      const s = id === null ? 0n : (signed.get(id)?.units ?? 0n);
      if (counter > s) unsigned += counter - s;
    }
    if (unsigned > 0n) o.log(`${unsigned} metered units were never signed`);

    const rejectedAfter = await target.api.rejectionCounts();
    const rejected: Record<string, number> = {};
    for (const [reason, n] of Object.entries(rejectedAfter)) {
      const delta = n - (rejectedBefore[reason] ?? 0);
      if (delta > 0) rejected[reason] = delta;
    }
    const faultsInjected: FaultCounts = brokerRestarts > 0 ? { 'broker-restart': brokerRestarts } : {};
    if (kills > 0) faultsInjected['kill-hub'] = kills;
    if (cluster && cluster.brokerOutages > 0) faultsInjected['broker-node-down'] = cluster.brokerOutages;
    for (const f of finals) {
      for (const [k, n] of Object.entries(f.status.faultCounts))
        faultsInjected[k as FaultKind] = (faultsInjected[k as FaultKind] ?? 0) + n;
    }
    const agentLog: Record<string, number> = {};
    for (const f of finals)
      for (const [k, n] of Object.entries(f.status.agentLog)) agentLog[k] = (agentLog[k] ?? 0) + n;
    const cpu = process.cpuUsage(cpuStart);
    return buildReport({
      seed: o.seed,
      devices: o.devices,
      ratePerDevice: o.ratePerDevice,
      durationS: o.durationS,
      hub: target.kind,
      ...(cluster
        ? {
            cluster: {
              hubs: cluster.hubs,
              broker: cluster.broker,
              failovers: [...cluster.failovers],
              brokerOutages: cluster.brokerOutages,
            },
          }
        : {}),
      reconciliation,
      meteredUnits: metered,
      unsignedUnits: unsigned,
      bundlesVerified,
      epochs,
      rejected,
      faultPlan: o.faults,
      faultsInjected,
      agentLog,
      vouchers: Number(acceptedVouchers),
      elapsedS,
      latency: timeline.latency(),
      stages: stages.report(),
      eventLoop: {
        main: mainLag,
        fleet: workers > 0 ? finals.map((f) => f.status.loopLag) : [],
      },
      timeline: timeline.points,
      process: {
        // This process only (the hub, when embedded); fleet processes report on their own.
        cpuUserS: round1(cpu.user / 1e6),
        cpuSystemS: round1(cpu.system / 1e6),
        maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        fleetCpuS: round1(finals.reduce((a, f) => a + (f.usage?.cpuS ?? 0), 0)),
        fleetMaxRssMiB: Math.round(finals.reduce((a, f) => a + (f.usage?.maxRssMiB ?? 0), 0)),
        runCpuS: round1((runCpu.user + runCpu.system) / 1e6),
        steady: {
          fromS: steadyFromS,
          toS: o.durationS,
          cpuS: round1(steadyCpuS),
          vouchers: steadyVouchers,
          cpuUsPerVoucher: steadyVouchers > 0 ? Math.round((steadyCpuS * 1e6) / steadyVouchers) : null,
          systemCpuS: round1(steadyCpu.system / 1e6),
          groupCommits: steadyCommits,
        },
        baseRssMiB,
        maxHeapMiB: Math.round(maxHeapBytes / 2 ** 20),
        fleetProcesses: workers,
        // As the fleet processes saw their own priority, not as asked.
        ...(workers > 0 ? { fleetNice: Math.min(...finals.map((f) => f.usage?.nice ?? 0)) } : {}),
        ...(plan.reason ? { fleetSpread: plan.reason } : {}),
        descriptorLimit: {
          soft: finiteOrNull(o.descriptorLimit?.soft),
          hard: finiteOrNull(o.descriptorLimit?.hard),
        },
        hubDescriptorErrors: (await target.descriptorErrors?.()) ?? null,
      },
    });
  } finally {
    clearInterval(poll);
    await Promise.all(shards.map((s) => s.finish().catch(() => undefined)));
    timeline.destroy();
    stages.destroy();
    mainLoop?.stop();
    await target.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Options come from the CLI or from code: a run that silently simulates nothing must not happen. */
function validateOptions(o: SimOptions): void {
  const whole = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min;
  const problems = [
    !whole(o.devices, 1) && 'devices must be a whole number >= 1',
    !whole(o.workers, 0) && 'workers must be a whole number >= 0',
    !whole(o.durationS, 1) && 'durationS must be a whole number >= 1',
    !whole(o.batch, 1) && 'batch must be a whole number >= 1',
    !whole(o.batchMs, 1) && 'batchMs must be a whole number >= 1',
    !whole(o.window, 1) && 'window must be a whole number >= 1',
    !(typeof o.ratePerDevice === 'number' && o.ratePerDevice > 0) && 'ratePerDevice must be > 0',
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) throw new TypeError(`runSimulation: ${problems.join('; ')}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepUntil = (t: number) => sleep(Math.max(0, t - performance.now()));
const round1 = (x: number) => Math.round(x * 10) / 10;
const finiteOrNull = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : x);
