// The simulator's report: one object, printed as a readable summary, written as JSON for
// scripts (`--json FILE`) and as a self-contained page (`--html FILE`). Money and units are
// decimal strings in JSON so no consumer ever sees a float.
import { describeBroker, type BrokerChoice } from './broker-choice.js';
import type { FaultKind, FaultPlan } from './faults.js';
import type { ChannelMismatch, Reconciliation } from './ledger.js';
import { worstLag, type LoopLag } from './loop-lag.js';
import type { StageName, StageReport } from './stages.js';
import type { LatencySummary, TimelinePoint } from './timeline.js';

export interface ClusterSummary {
  hubs: number;
  /** Each SIGKILL: the hub, when (s into the run), its partitions, how long until all were held
   *  again, and until the first receipt from their new owners (null: none came before the next kill
   *  or the end of the run). */
  failovers: Array<{ hub: string; atS: number; partitions: number; ms: number; firstReceiptMs: number | null }>;
  /** The broker: one aedes node (broker-node-down is an outage), a nats-server cluster or bridged
   *  Mosquitto nodes (broker-node-down SIGKILLs one node and its clients fail over to the others). */
  broker: BrokerChoice;
  brokerOutages: number;
}

function formatBroker(c: ClusterSummary): string {
  return c.broker.kind === 'aedes'
    ? `broker: one aedes node, ${c.brokerOutages} outage(s) (came back empty)`
    : `broker: ${describeBroker(c.broker)}, ${c.brokerOutages} node failover(s) (SIGKILL, clients moved)`;
}

export interface FaultCount {
  setting: number;
  injected: number;
}

export interface SimReport {
  ok: boolean;
  seed: number;
  devices: number;
  ratePerDevice: number;
  durationS: number;
  hub: 'embedded' | 'remote' | 'cluster';
  /** With --hubs: the cluster's size and every failover, timed. */
  cluster?: ClusterSummary;
  units: { metered: string; signed: string; accepted: string; settled: string };
  amount: { signed: string; accepted: string; settled: string };
  lost: string;
  duplicated: string;
  unsettled: string;
  rejected: { total: number; byReason: Record<string, number> };
  faults: Partial<Record<FaultKind, FaultCount>>;
  throughput: { vouchersPerSec: number };
  latencyMs: LatencySummary;
  /** Sign -> receipt by stage, per segment (stages.ts says what each stage is and how clocks are
   *  handled); a stage no one could measure is null. */
  stagesMs: StageReport;
  /** Event-loop lag: of this process (with an embedded hub, the hub's) and of each fleet process. */
  eventLoopMs: { main: LoopLag; fleet: LoopLag[] };
  settlement: { epochs: number[]; bundlesVerified: boolean };
  mismatches: Array<{ channelId: string; signed: string; accepted: string; settled: string }>;
  /** What the agents logged, by code (LINK_UP, CHANNEL_GRANTED, SEGMENT_REJECTED, ...). */
  agentLog: Record<string, number>;
  /** This process (with an embedded hub: the hub), and the fleet's own processes if any. */
  process: {
    cpuUserS: number;
    cpuSystemS: number;
    maxRssMiB: number;
    fleetCpuS: number;
    fleetMaxRssMiB: number;
    /** CPU of this process (all its threads) from the start of production to the end of the drain:
     *  with an embedded hub and the fleet elsewhere, what the hub spent on the run's vouchers. */
    runCpuS?: number;
    /** The steady part of production (its last two thirds: every device connected and granted long
     *  before): CPU of this process and the vouchers receipted meanwhile. Per voucher, this is the
     *  hub's running cost without the connection storm at the start or the drain at the end. */
    steady?: {
      fromS: number;
      toS: number;
      cpuS: number;
      vouchers: number;
      cpuUsPerVoucher: number | null;
      /** The kernel's part of cpuS (system calls: socket reads and writes, fsync). */
      systemCpuS?: number;
      /** Group commits the embedded hub made in the window (each one transaction and one fsync);
       *  null for a remote hub. Vouchers per commit is what a commit's fixed cost is spread over. */
      groupCommits?: number | null;
    };
    /** RSS of this process before the devices were enrolled: with an embedded hub, the hub at rest.
     *  (maxRssMiB - baseRssMiB) / devices is what each device cost. */
    baseRssMiB?: number;
    /** Largest V8 heap of this process (heapTotal, sampled once a second): the part of the RSS that
     *  the collector sizes to the allocation rate. */
    maxHeapMiB?: number;
    /** Fleet processes (0: the fleet ran in this process), and why the simulator chose more than
     *  asked, if it did. */
    fleetProcesses?: number;
    fleetSpread?: string;
    /** Niceness the fleet processes ran at (absent with no fleet process). */
    fleetNice?: number;
    /** This process's descriptor limit (fleet processes inherit it); null if unknown or unlimited. */
    descriptorLimit?: { soft: number | null; hard: number | null };
    /** EMFILE and ENFILE counted by the embedded hub; null for a running hub (see its /metrics). */
    hubDescriptorErrors?: number | null;
  };
  timeline: TimelinePoint[];
}

export interface ReportInput {
  seed: number;
  devices: number;
  ratePerDevice: number;
  durationS: number;
  hub: 'embedded' | 'remote' | 'cluster';
  cluster?: ClusterSummary;
  reconciliation: Reconciliation;
  /** Units the physical meters counted, and those of them no voucher carries (lost before signing). */
  meteredUnits: bigint;
  unsignedUnits: bigint;
  bundlesVerified: boolean;
  epochs: number[];
  rejected: Record<string, number>;
  faultPlan: FaultPlan;
  faultsInjected: Partial<Record<FaultKind, number>>;
  agentLog: Record<string, number>;
  vouchers: number;
  elapsedS: number;
  latency: LatencySummary;
  stages: StageReport;
  eventLoop: SimReport['eventLoopMs'];
  timeline: TimelinePoint[];
  process: SimReport['process'];
}

export function buildReport(input: ReportInput): SimReport {
  const r = input.reconciliation;
  const faults: SimReport['faults'] = {};
  for (const kind of Object.keys(input.faultPlan) as FaultKind[]) {
    faults[kind] = { setting: input.faultPlan[kind]!, injected: input.faultsInjected[kind] ?? 0 };
  }
  const total = Object.values(input.rejected).reduce((a, b) => a + b, 0);
  const perS = (n: number) => Math.round((n / Math.max(input.elapsedS, 0.001)) * 10) / 10;
  return {
    // A run in which nothing was signed proves nothing: 0 = 0 = 0 is not a pass.
    ok: r.ok && input.bundlesVerified && input.unsignedUnits === 0n && r.signed.units > 0n,
    seed: input.seed,
    devices: input.devices,
    ratePerDevice: input.ratePerDevice,
    durationS: input.durationS,
    hub: input.hub,
    ...(input.cluster ? { cluster: input.cluster } : {}),
    units: {
      metered: `${input.meteredUnits}`,
      signed: `${r.signed.units}`,
      accepted: `${r.accepted.units}`,
      settled: `${r.settled.units}`,
    },
    amount: { signed: `${r.signed.amount}`, accepted: `${r.accepted.amount}`, settled: `${r.settled.amount}` },
    lost: `${r.lost + input.unsignedUnits}`,
    duplicated: `${r.duplicated}`,
    unsettled: `${r.unsettled}`,
    rejected: { total, byReason: { ...input.rejected } },
    faults,
    throughput: { vouchersPerSec: perS(input.vouchers) },
    latencyMs: input.latency,
    stagesMs: input.stages,
    eventLoopMs: input.eventLoop,
    settlement: { epochs: input.epochs, bundlesVerified: input.bundlesVerified },
    mismatches: r.mismatches.map(describeMismatch),
    agentLog: { ...input.agentLog },
    process: input.process,
    timeline: input.timeline,
  };
}

function describeMismatch(m: ChannelMismatch) {
  const t = (x: { units: bigint; amount: bigint }) => `${x.units} units / ${x.amount}`;
  return { channelId: m.channelId, signed: t(m.signed), accepted: t(m.accepted), settled: t(m.settled) };
}

/** The readable summary printed at the end of a run. */
export function formatReport(r: SimReport): string {
  const rows: Array<[string, string]> = [
    ['result', r.ok ? 'OK: signed = accepted = settled' : 'FAILED: conservation does not hold'],
    ['fleet', `${r.devices} devices x ${r.ratePerDevice} units/s for ${r.durationS} s (${r.hub} hub, seed ${r.seed})`],
    [
      'units',
      `metered ${r.units.metered}, signed ${r.units.signed}, accepted ${r.units.accepted}, settled ${r.units.settled}`,
    ],
    ['amount', `signed ${r.amount.signed}, accepted ${r.amount.accepted}, settled ${r.amount.settled}`],
    ['lost / duplicated', `${r.lost} / ${r.duplicated}`],
    ['rejected', r.rejected.total === 0 ? '0' : `${r.rejected.total} (${formatCounts(r.rejected.byReason)})`],
    ['faults', formatFaults(r.faults)],
    ...(r.cluster
      ? ([
          [
            'cluster',
            `${r.cluster.hubs} hubs; failovers ${r.cluster.failovers.map((f) => `${f.hub} at ${f.atS} s: ${f.partitions} partitions in ${f.ms} ms, first receipt ${f.firstReceiptMs === null ? 'none' : `${f.firstReceiptMs} ms`}`).join(', ') || 'none'}; ${formatBroker(r.cluster)}`,
          ],
        ] as Array<[string, string]>)
      : []),
    ['throughput', `${r.throughput.vouchersPerSec} vouchers/s accepted, end to end`],
    [
      'latency (sign->receipt)',
      `p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
    ],
    ['latency by stage (p50 / p99 ms)', formatStages(r.stagesMs)],
    ['event-loop lag (p99 / max ms)', formatLoops(r)],
    [
      'settlement',
      `epochs ${r.settlement.epochs.join(', ') || 'none'}; bundles ${r.settlement.bundlesVerified ? 'verified offline' : 'FAILED verification'}`,
    ],
    ['agent log', formatCounts(r.agentLog) || 'nothing'],
    ...(r.process.fleetSpread
      ? [['fleet processes', `${r.process.fleetProcesses}: ${r.process.fleetSpread}`] as [string, string]]
      : []),
    ...(r.process.descriptorLimit ? [['descriptors', formatDescriptors(r.process)] as [string, string]] : []),
    [
      'process',
      `cpu ${r.process.cpuUserS} s user + ${r.process.cpuSystemS} s system, max RSS ${r.process.maxRssMiB} MiB` +
        (r.process.fleetCpuS > 0
          ? `; fleet processes${r.process.fleetNice ? ` (nice ${r.process.fleetNice})` : ''}: cpu ${r.process.fleetCpuS} s, max RSS ${r.process.fleetMaxRssMiB} MiB`
          : ''),
    ],
    ...(r.process.steady?.cpuUsPerVoucher != null
      ? [
          [
            'steady state',
            `seconds ${r.process.steady.fromS}-${r.process.steady.toS}: this process ${r.process.steady.cpuUsPerVoucher} us of cpu per voucher` +
              formatCommits(r.process.steady) +
              (r.process.baseRssMiB !== undefined
                ? `; RSS ${r.process.baseRssMiB} MiB before enrolment, ${r.process.maxRssMiB} MiB at most` +
                  (r.process.maxHeapMiB !== undefined ? ` (V8 heap at most ${r.process.maxHeapMiB} MiB)` : '')
                : ''),
          ] as [string, string],
        ]
      : []),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  for (const m of r.mismatches.slice(0, 20)) {
    lines.push(`  channel ${m.channelId}: signed ${m.signed}, accepted ${m.accepted}, settled ${m.settled}`);
  }
  if (r.mismatches.length > 20) lines.push(`  ... and ${r.mismatches.length - 20} more channels`);
  return ['Tally fleet simulation', ...lines].join('\n');
}

/** The order a segment goes through them, with the names the report prints. */
export const STAGE_LABELS: Array<[StageName, string]> = [
  ['agent', 'agent'],
  ['brokerNetwork', 'broker+network'],
  ['hubCommit', 'hub commit'],
  ['hubReceipt', 'hub receipt'],
  ['back', 'back'],
  ['total', 'total'],
];

export function formatStages(s: StageReport): string {
  const parts = STAGE_LABELS.map(([k, label]) => {
    const v = s.stages[k];
    return `${label} ${v === null ? 'n/a' : `${v.p50} / ${v.p99}`}`;
  });
  const notes = [`${s.joined} segments joined`];
  if (s.clockAnomalies > 0) notes.push(`${s.clockAnomalies} clock anomalies`);
  return `${parts.join(', ')} (${notes.join(', ')})`;
}

export function formatLoops(r: SimReport): string {
  const f = (l: LoopLag) => `${l.p99Ms} / ${l.maxMs}`;
  const main = `${r.hub === 'embedded' ? 'hub' : 'simulator'} ${f(r.eventLoopMs.main)}`;
  const fleet = r.eventLoopMs.fleet;
  if (fleet.length === 0) return `${main} (fleet in the same process)`;
  return `${main}, fleet ${f(worstLag(fleet))} (worst of ${fleet.length} process${fleet.length > 1 ? 'es' : ''})`;
}

/** '; 812 group commits of 8.4 vouchers' for the steady-state line, or nothing for a remote hub. */
function formatCommits(steady: NonNullable<SimReport['process']['steady']>): string {
  const n = steady.groupCommits;
  if (n === null || n === undefined || n === 0) return '';
  return `, ${steady.systemCpuS ?? '?'} s of it in the kernel; ${n} group commits of ${(steady.vouchers / n).toFixed(1)} vouchers`;
}

function formatDescriptors(p: SimReport['process']): string {
  const l = p.descriptorLimit!;
  const limit = `limit ${l.soft ?? 'unknown'} soft, ${l.hard ?? 'unknown'} hard`;
  if (p.hubDescriptorErrors === null || p.hubDescriptorErrors === undefined) return limit;
  return `${limit}; hub out of descriptors (EMFILE) ${p.hubDescriptorErrors} times`;
}

export function formatCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

export function formatFaults(faults: SimReport['faults']): string {
  const entries = Object.entries(faults);
  if (entries.length === 0) return 'none';
  return entries.map(([k, f]) => `${k}=${f!.setting} (${f!.injected} injected)`).join(', ');
}

/** JSON with bigint-safe output (bigints never reach here, but be explicit about it). */
export function reportToJson(r: SimReport): string {
  return JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}
