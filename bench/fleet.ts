// bench/fleet: the fleet ladder. Each size runs the bundled simulator (dist/tally-sim.js, so
// `npm run build` first) in a fresh process against its embedded hub, reads its JSON report and
// prints, size by size: conservation, sign -> receipt by stage (p99), end to end (p50, p99), the
// event-loop lag of the hub and of the fleet processes, hub CPU per voucher and hub RSS per
// connected device. The hub's CPU per voucher is its process's (all threads) over the steady part of
// production (its last two thirds), divided by the vouchers receipted meanwhile; the whole run's
// (start of production to end of drain, with the connection storm) is in the JSON. Its RSS per
// device is the process's peak minus its RSS before enrolment, divided by the devices; the peak
// itself is printed too. Then the spread of both across sizes (largest / smallest).
//
//   npx tsx bench/fleet.ts                      # 1,000 / 5,000 / 10,000 / 20,000 devices, 60 s
//   TALLY_BENCH_FLEET=1000,5000 TALLY_BENCH_SECONDS=30 npx tsx bench/fleet.ts
//   TALLY_BENCH_JSON=ladder.json npx tsx bench/fleet.ts    # the rows as JSON too
//
// A size whose sockets exceed the descriptor limit still runs: the simulator spreads the fleet
// over processes, and a hub out of descriptors is counted (column "EMFILE"). Where the hard limit
// may be raised (root with CAP_SYS_RESOURCE; a container may refuse it), `prlimit
// --nofile=65536:65536 npx tsx bench/fleet.ts` lifts it for 20,000 devices.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sizes = (process.env.TALLY_BENCH_FLEET ?? '1000,5000,10000,20000').split(',').map(Number);
const seconds = Number(process.env.TALLY_BENCH_SECONDS ?? 60);
const rate = Number(process.env.TALLY_BENCH_RATE ?? 1);
// A device at 1 unit/s signs a segment every 10 s: 10 vouchers per signature.
const batchMs = Number(process.env.TALLY_BENCH_BATCH_MS ?? 10_000);

if (!existsSync('dist/tally-sim.js')) {
  console.error('bench/fleet needs the bundle: run `npm run build` first');
  process.exit(2);
}

interface Stage {
  p50: number;
  p99: number;
}

interface Row {
  devices: number;
  ok: boolean;
  exit: number | null;
  units: string;
  vps: number;
  total: Stage | null;
  stages: Record<'agent' | 'brokerNetwork' | 'hub' | 'back', Stage | null>;
  hubLoopP99: number;
  fleetLoopP99: number;
  fleetProcesses: number;
  hubCpuUsPerVoucher: number;
  /** Vouchers per group commit in the steady window: what a commit's fixed cost is spread over. */
  vouchersPerCommit: number | null;
  hubRunCpuUsPerVoucher: number;
  hubRssKiBPerDevice: number;
  hubRssMiB: number;
  /** Of which the V8 heap at most (sampled once a second). */
  hubHeapMiB: number | null;
  emfile: number | null;
  wallS: number;
}

const rows: Row[] = [];
const f = (v: number | undefined | null, digits = 0) => (v === undefined || v === null ? '-' : v.toFixed(digits));
const dir = mkdtempSync(join(tmpdir(), 'tally-bench-fleet-'));
try {
  for (const devices of sizes) {
    const out = join(dir, `${devices}.json`);
    const t0 = performance.now();
    const run = spawnSync(
      process.execPath,
      [
        'dist/tally-sim.js',
        'run',
        '--devices',
        `${devices}`,
        '--rate',
        `${rate}`,
        '--duration',
        `${seconds}`,
        '--batch-ms',
        `${batchMs}`,
        '--json',
        out,
        '--quiet',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const wallS = (performance.now() - t0) / 1000;
    if (!existsSync(out)) {
      console.error(`${devices} devices: the simulator did not produce a report (exit ${run.status})`);
      continue;
    }
    const r = JSON.parse(readFileSync(out, 'utf8'));
    const stage = (s: { p50: number; p99: number } | null): Stage | null => (s ? { p50: s.p50, p99: s.p99 } : null);
    // One voucher per unit: the units the hub accepted are its vouchers.
    const vouchers = Number(r.units.accepted);
    rows.push({
      devices,
      ok: r.ok === true,
      exit: run.status,
      units: r.units.settled,
      vps: r.throughput.vouchersPerSec,
      total: stage(r.stagesMs.stages.total),
      stages: {
        agent: stage(r.stagesMs.stages.agent),
        brokerNetwork: stage(r.stagesMs.stages.brokerNetwork),
        hub: stage(r.stagesMs.stages.hub),
        back: stage(r.stagesMs.stages.back),
      },
      hubLoopP99: r.eventLoopMs.main.p99Ms,
      fleetLoopP99: Math.max(0, ...r.eventLoopMs.fleet.map((l: { p99Ms: number }) => l.p99Ms)),
      fleetProcesses: r.process.fleetProcesses ?? 0,
      hubCpuUsPerVoucher: r.process.steady?.cpuUsPerVoucher ?? 0,
      vouchersPerCommit: r.process.steady?.groupCommits
        ? r.process.steady.vouchers / r.process.steady.groupCommits
        : null,
      hubRunCpuUsPerVoucher: vouchers > 0 ? ((r.process.runCpuS ?? 0) * 1e6) / vouchers : 0,
      hubRssKiBPerDevice: ((r.process.maxRssMiB - (r.process.baseRssMiB ?? 0)) * 1024) / devices,
      hubRssMiB: r.process.maxRssMiB,
      hubHeapMiB: r.process.maxHeapMiB ?? null,
      emfile: r.process.hubDescriptorErrors ?? null,
      wallS,
    });
    const done = rows[rows.length - 1]!;
    console.error(
      `${devices} devices: ${done.ok ? 'conserves' : `does NOT conserve (exit ${done.exit})`}, ` +
        `sign -> receipt p99 ${f(done.total?.p99)} ms, hub stage p99 ${f(done.stages.hub?.p99, 1)} ms (${Math.round(wallS)} s)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `\nfleet ladder: ${rate} unit/s per device for ${seconds} s, a signed segment every ${batchMs} ms, embedded hub, fleet in child processes; ms`,
);
console.log(
  'devices  conserves  vouchers/s  agent p99  broker+net p99  hub p99  back p99  e2e p50  e2e p99  hub lag p99  fleet lag p99 (procs)  hub cpu us/voucher  vouchers/commit  hub RSS KiB/device  hub RSS MiB  hub heap MiB  EMFILE',
);
for (const r of rows) {
  const s = r.stages;
  console.log(
    [
      `${r.devices}`.padStart(7),
      (r.ok ? 'yes' : `NO (${r.exit})`).padStart(10),
      f(r.vps).padStart(11),
      f(s.agent?.p99, 1).padStart(10),
      f(s.brokerNetwork?.p99, 1).padStart(15),
      f(s.hub?.p99, 1).padStart(8),
      f(s.back?.p99, 1).padStart(9),
      f(r.total?.p50).padStart(8),
      f(r.total?.p99).padStart(8),
      f(r.hubLoopP99, 1).padStart(12),
      `${f(r.fleetLoopP99, 1)} (${r.fleetProcesses})`.padStart(22),
      f(r.hubCpuUsPerVoucher).padStart(19),
      f(r.vouchersPerCommit, 1).padStart(17),
      f(r.hubRssKiBPerDevice).padStart(19),
      f(r.hubRssMiB).padStart(12),
      f(r.hubHeapMiB).padStart(13),
      f(r.emfile).padStart(7),
    ].join(' '),
  );
}
const spread = (pick: (r: Row) => number) => {
  const v = rows.map(pick).filter((x) => x > 0);
  return v.length > 1 ? `${(Math.max(...v) / Math.min(...v)).toFixed(2)}x` : '-';
};
console.log(
  `\nspread across sizes (largest / smallest): hub cpu per voucher ${spread((r) => r.hubCpuUsPerVoucher)}, ` +
    `hub RSS per device ${spread((r) => r.hubRssKiBPerDevice)}`,
);
if (process.env.TALLY_BENCH_JSON) writeFileSync(process.env.TALLY_BENCH_JSON, `${JSON.stringify(rows, null, 2)}\n`);
const best = rows.filter((r) => r.ok).sort((a, b) => b.devices - a.devices)[0];
console.log(
  best
    ? `\nlargest conserving fleet: ${best.devices} devices x ${rate} unit/s for ${seconds} s`
    : '\nno size conserved',
);
process.exit(rows.length === sizes.length && rows.every((r) => r.ok) ? 0 : 1);
