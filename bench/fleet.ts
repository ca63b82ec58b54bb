// bench/fleet: the largest fleet this machine sustains with exact conservation, reported as
// devices x rate with CPU and memory. Each size runs the bundled simulator (dist/tally-sim.js, so
// `npm run build` first) in a fresh process against its embedded hub, and reads its JSON report.
//
//   npx tsx bench/fleet.ts                      # 1,000, 5,000 and 10,000 devices, 1 unit/s, 60 s
//   TALLY_BENCH_FLEET=2000,20000 TALLY_BENCH_SECONDS=30 npx tsx bench/fleet.ts
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sizes = (process.env.TALLY_BENCH_FLEET ?? '1000,5000,10000').split(',').map(Number);
const seconds = Number(process.env.TALLY_BENCH_SECONDS ?? 60);
const rate = Number(process.env.TALLY_BENCH_RATE ?? 1);
// A device at 1 unit/s signs a segment every 10 s: 10 vouchers per signature.
const batchMs = Number(process.env.TALLY_BENCH_BATCH_MS ?? 10_000);

if (!existsSync('dist/tally-sim.js')) {
  console.error('bench/fleet needs the bundle: run `npm run build` first');
  process.exit(2);
}

interface Row {
  devices: number;
  ok: boolean;
  units: string;
  vps: number;
  p50: number;
  p99: number;
  cpuS: number;
  rssMiB: number;
  wallS: number;
}

const rows: Row[] = [];
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
      rows.push({ devices, ok: false, units: '-', vps: 0, p50: 0, p99: 0, cpuS: 0, rssMiB: 0, wallS });
      continue;
    }
    const r = JSON.parse(readFileSync(out, 'utf8'));
    rows.push({
      devices,
      ok: r.ok === true,
      units: r.units.settled,
      vps: r.throughput.vouchersPerSec,
      p50: r.latencyMs.p50,
      p99: r.latencyMs.p99,
      cpuS: r.process.cpuUserS + r.process.cpuSystemS + r.process.fleetCpuS,
      rssMiB: r.process.maxRssMiB + r.process.fleetMaxRssMiB,
      wallS,
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `\nfleet: ${rate} unit/s per device for ${seconds} s, a signed segment every ${batchMs} ms, embedded hub, hub and fleet in separate processes from 1,000 devices; cpu and RSS are the sum of both`,
);
console.log(
  'devices x rate     conserves  units settled  vouchers/s  p50 ms  p99 ms  cpu s (cores)   max RSS MiB  wall s',
);
for (const r of rows) {
  const cores = r.wallS > 0 ? (r.cpuS / r.wallS).toFixed(2) : '-';
  console.log(
    `${`${r.devices} x ${rate}/s`.padEnd(18)} ${(r.ok ? 'yes' : 'NO').padEnd(10)} ${r.units.padStart(13)}  ${r.vps.toFixed(0).padStart(10)}  ${r.p50.toFixed(0).padStart(6)}  ${r.p99.toFixed(0).padStart(6)}  ${`${r.cpuS.toFixed(0)} (${cores})`.padStart(13)}   ${`${r.rssMiB}`.padStart(11)}  ${r.wallS.toFixed(0).padStart(6)}`,
  );
}
const best = rows.filter((r) => r.ok).sort((a, b) => b.devices - a.devices)[0];
console.log(
  best
    ? `\nlargest conserving fleet: ${best.devices} devices x ${rate} unit/s for ${seconds} s`
    : '\nno size conserved',
);
process.exit(rows.every((r) => r.ok) ? 0 : 1);
