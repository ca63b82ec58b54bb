// bench/cluster: what a cluster of hubs costs, on one machine, in one run.
//
//   npx tsx bench/cluster.ts [--json]         # the whole thing (about 12 minutes on 2 cores)
//   TALLY_BENCH_KILLS=3 TALLY_BENCH_SKIP=ingest npx tsx bench/cluster.ts
//   TALLY_BENCH_SKIP=ingest TALLY_BENCH_KILLS=10 TALLY_BENCH_ACK_TIMEOUT_MS=2000 npx tsx bench/cluster.ts
//
// 1. Ingest: bench/hub-ingest.ts three times, each in its own process: one hub on SQLite, one hub on
//    PostgreSQL, three `tally-hub start --cluster` processes on PostgreSQL (`--hubs 3`). Chained
//    vouchers/s (segments of 64) and one-signature vouchers/s, end to end (signed before the clock,
//    published, committed, receipted), and whether every voucher sent was committed exactly once.
//    PostgreSQL runs with fsync and synchronous_commit on, on the same cores as everything else.
// 2. Failover: three `tally-hub start --cluster` processes (lease 6 s by default) on one
//    PostgreSQL and a plain aedes broker, TALLY_BENCH_AGENTS (12) in-process Agents streaming (the
//    library `tally-agent run` uses, its defaults but for batch 16 / 200 ms so that receipts flow
//    continuously). TALLY_BENCH_KILLS (20) times: SIGKILL the hub whose partitions hold the most
//    devices; time from the SIGKILL to (a) the first receipt that any of its devices receives
//    (necessarily from another hub: the killed one is gone and the lease has not run out when the
//    baseline is taken 100 ms after the exit), (b) the first and the last of its partitions owned
//    by a survivor (partition_leases, polled every 100 ms). Then the hub is restarted, the split
//    settles and every device has a fresh receipt before the next kill. At the end the meters stop
//    and every device's committed head must equal its meter (nothing lost or counted twice).
//
// Environment: TALLY_BENCH_KILLS, TALLY_BENCH_LEASE_MS, TALLY_BENCH_AGENTS, TALLY_BENCH_ENROLLED
// (devices enrolled besides the agents, default 0: a takeover reads its partitions' devices),
// TALLY_BENCH_ACK_TIMEOUT_MS
// (the agent's re-send timer; default the agent's own, 15 s), TALLY_BENCH_DEVICES (32) /
// _VOUCHERS64 (640,000) / _VOUCHERS1 (100,000) (ingest size per row, hub-ingest's own defaults),
// TALLY_BENCH_SKIP=ingest|failover.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Agent } from '../agent/agent.js';
import { systemClock } from '../agent/clock.js';
import { AGENT_DEFAULTS } from '../agent/defaults.js';
import { createFileMeter } from '../agent/meter/file.js';
import { openOutboxDatabase, openSqliteOutbox } from '../agent/outbox/sqlite.js';
import { generateKeyPair, partitionOf, toHex } from '../protocol/index.js';
import { startProcessCluster } from '../support/process-cluster.js';

const env = (name: string, fallback: number) => Number(process.env[`TALLY_BENCH_${name}`] ?? fallback);
const KILLS = env('KILLS', 20);
const LEASE_MS = env('LEASE_MS', 6000);
const AGENTS = env('AGENTS', 12);
// Devices enrolled besides the agents, none of them connected: what a takeover reads grows with them.
const ENROLLED = env('ENROLLED', 0);
const ACK_TIMEOUT_MS = env('ACK_TIMEOUT_MS', AGENT_DEFAULTS.ackTimeoutMs);
const SKIP = process.env.TALLY_BENCH_SKIP ?? '';
const JSON_OUT = process.argv.includes('--json');
const say = (line: string) => {
  if (!JSON_OUT) console.log(line);
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};
const spread = (xs: number[]) => ({ p50: pct(xs, 0.5), p99: pct(xs, 0.99), max: Math.max(...xs) });

interface IngestLine {
  hubs: number;
  store: string;
  results: { shape: string; vouchers: number; vouchersPerSecond: number }[];
  committed: string;
  expected: string;
  conserved: boolean;
}

async function ingest(args: string[]): Promise<IngestLine> {
  const script = fileURLToPath(new URL('./hub-ingest.ts', import.meta.url));
  const size = [
    '--devices',
    String(env('DEVICES', 32)),
    '--vouchers64',
    String(env('VOUCHERS64', 640_000)),
    '--vouchers1',
    String(env('VOUCHERS1', 100_000)),
    '--stall-s',
    '300',
  ];
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', script, ...args, ...size, '--no-mosquitto', '--json'],
    { maxBuffer: 1 << 24 },
  ).catch((err: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`hub-ingest ${args.join(' ')} failed: ${err.message}\n${err.stderr ?? ''}`);
  });
  const line = stdout.trim().split('\n').at(-1)!;
  return JSON.parse(line) as IngestLine;
}

async function ingestAll(): Promise<(IngestLine & { label: string })[]> {
  const runs: [string, string[]][] = [
    ['1 hub, SQLite', ['--store', 'sqlite']],
    ['1 hub, PostgreSQL', ['--store', 'postgres']],
    ['3 hubs, PostgreSQL', ['--hubs', '3']],
  ];
  const out: (IngestLine & { label: string })[] = [];
  for (const [label, args] of runs) {
    say(`ingest: ${label} ...`);
    out.push({ label, ...(await ingest(args)) });
    const r = out.at(-1)!;
    say(
      `  ${r.results.map((x) => `${x.shape}: ${fmt(x.vouchersPerSecond)} vouchers/s`).join(', ')}; conserved ${r.conserved}`,
    );
  }
  return out;
}

/** One streaming device: an Agent on its own SQLite outbox and a file meter the bench advances. */
function device(dir: string) {
  const keyPair = generateKeyPair();
  const hex = toHex(keyPair.publicKey);
  const counter = join(dir, `${hex}.counter`);
  writeFileSync(counter, '0\n');
  let agent: Agent | undefined;
  let db: ReturnType<typeof openOutboxDatabase> | undefined;
  return {
    hex,
    partition: partitionOf(hex),
    set: (v: bigint) => writeFileSync(counter, `${v}\n`),
    acked: () => agent?.snapshot().ackedUnits ?? 0n,
    start(url: string, hubKey: Uint8Array) {
      db = openOutboxDatabase(join(dir, `${hex}.db`));
      agent = new Agent({
        keyPair,
        hubKey,
        store: openSqliteOutbox(db, hex),
        meter: createFileMeter(counter, 50, systemClock),
        broker: { url },
        batch: 16,
        batchMs: 200,
        ackTimeoutMs: ACK_TIMEOUT_MS,
      });
      agent.on('log', () => undefined);
      agent.start();
    },
    async stop() {
      await agent?.stop();
      db?.close();
    },
  };
}

async function failover() {
  const cluster = await startProcessCluster(3, { leaseMs: LEASE_MS });
  const dir = mkdtempSync(join(tmpdir(), 'tally-bench-failover-'));
  const devices = Array.from({ length: AGENTS }, () => device(dir));
  let tick: NodeJS.Timeout | undefined;
  const firstReceipt: number[] = [];
  const firstTaken: number[] = [];
  const allTaken: number[] = [];
  try {
    await cluster.start(0);
    await cluster.enrol(devices.map((d) => d.hex));
    for (let i = 0; i < ENROLLED; i += 1000) {
      const n = Math.min(1000, ENROLLED - i);
      await cluster.enrol(Array.from({ length: n }, () => toHex(generateKeyPair().publicKey)));
    }
    await cluster.start(1);
    await cluster.start(2);
    await cluster.waitForSplit();
    let meter = 0n;
    for (const d of devices) d.start(cluster.brokerUrl, cluster.identity.keyPair.publicKey);
    tick = setInterval(() => {
      meter += 5n;
      for (const d of devices) d.set(meter);
    }, 100);
    const allFresh = async () => {
      const from = devices.map((d) => d.acked());
      await until(() => devices.every((d, i) => d.acked() > from[i]!), 'a fresh receipt for every device');
    };
    await allFresh();
    for (let k = 0; k < KILLS; k++) {
      const owners = await cluster.owners();
      const load = new Map<string, number>();
      for (const d of devices) {
        const o = owners.get(d.partition);
        if (o) load.set(o, (load.get(o) ?? 0) + 1);
      }
      const victimId = [...load.entries()].sort((a, b) => b[1] - a[1])[0]![0];
      const victim = Number(victimId.slice(1));
      const theirs = [...owners.entries()].filter(([, o]) => o === victimId).map(([p]) => p);
      const onVictim = devices.filter((d) => owners.get(d.partition) === victimId);
      const killedAt = performance.now();
      await cluster.hubs[victim]!.kill('SIGKILL');
      await sleep(100);
      const base = onVictim.map((d) => d.acked());
      let receiptAt = 0;
      let firstAt = 0;
      let allAt = 0;
      let polled = 0;
      await until(async () => {
        const now = performance.now();
        if (!receiptAt && onVictim.some((d, i) => d.acked() > base[i]!)) receiptAt = now;
        if (now - polled >= 100 && !allAt) {
          polled = now;
          const o = await cluster.owners();
          const moved = theirs.filter((p) => o.get(p) && o.get(p) !== victimId).length;
          if (moved > 0 && !firstAt) firstAt = performance.now();
          if (moved === theirs.length) allAt = performance.now();
        }
        return receiptAt > 0 && allAt > 0;
      }, `the devices of ${victimId} receipted by another hub`);
      firstReceipt.push(Math.round(receiptAt - killedAt));
      firstTaken.push(Math.round(firstAt - killedAt));
      allTaken.push(Math.round(allAt - killedAt));
      say(
        `kill ${k + 1}/${KILLS}: ${victimId} (${theirs.length} partitions, ${onVictim.length} of ${AGENTS} devices): ` +
          `first receipt ${firstReceipt.at(-1)} ms, first partition ${firstTaken.at(-1)} ms, all ${allTaken.at(-1)} ms`,
      );
      await cluster.start(victim);
      await cluster.waitForSplit();
      await allFresh();
    }
    // The meters stop; everything drains; every committed head equals its meter.
    clearInterval(tick);
    tick = undefined;
    const final = meter;
    await until(() => devices.every((d) => d.acked() === final), `every device receipted up to ${final}`);
    const rows = await cluster.db.query<{ hex: string; units: string; equivocated: boolean }>(
      `SELECT encode(device_key, 'hex') AS hex, head_units::text AS units, equivocated FROM channels`,
    );
    const heads = new Map(rows.rows.map((r) => [r.hex, r]));
    const conserved = devices.every((d) => heads.get(d.hex)?.units === String(final) && !heads.get(d.hex)?.equivocated);
    return {
      kills: KILLS,
      leaseMs: LEASE_MS,
      ackTimeoutMs: ACK_TIMEOUT_MS,
      agents: AGENTS,
      enrolled: AGENTS + ENROLLED,
      firstReceiptMs: spread(firstReceipt),
      firstPartitionMs: spread(firstTaken),
      allPartitionsMs: spread(allTaken),
      finalMeter: String(final),
      conserved,
    };
  } finally {
    if (tick) clearInterval(tick);
    for (const d of devices) await d.stop();
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const ingestRuns = SKIP === 'ingest' ? [] : await ingestAll();
const fail = SKIP === 'failover' ? undefined : await failover();
const summary = { cores: availableParallelism(), node: process.version, ingest: ingestRuns, failover: fail };
if (ingestRuns.some((r) => !r.conserved) || (fail && !fail.conserved)) process.exitCode = 1;
if (JSON_OUT) console.log(JSON.stringify(summary));
else {
  if (ingestRuns.length) {
    console.log(`\ningest, end to end, ${availableParallelism()} cores shared by everything (node ${process.version})`);
    console.log('| hubs, store | chained vouchers/s (segments of 64) | one-signature vouchers/s | conserved |');
    console.log('|---|---:|---:|---|');
    for (const r of ingestRuns)
      console.log(
        `| ${r.label} | ${fmt(r.results[0]!.vouchersPerSecond)} | ${fmt(r.results[1]!.vouchersPerSecond)} | ` +
          `${r.conserved ? 'yes' : 'NO'} (${r.committed} of ${r.expected}) |`,
      );
  }
  if (fail) {
    console.log(
      `\nfailover, ${fail.kills} SIGKILLs of 3 cluster hubs, ${fail.agents} agents streaming of ${fail.enrolled} devices enrolled, lease ${fail.leaseMs} ms, ` +
        `agent re-send after ${fail.ackTimeoutMs} ms`,
    );
    console.log('| from SIGKILL to | p50 | p99 | max |');
    console.log('|---|---:|---:|---:|');
    for (const [name, v] of [
      ['first receipt from the new owner', fail.firstReceiptMs],
      ['first partition owned again', fail.firstPartitionMs],
      ['all partitions owned again', fail.allPartitionsMs],
    ] as const)
      console.log(`| ${name} | ${fmt(v.p50)} ms | ${fmt(v.p99)} ms | ${fmt(v.max)} ms |`);
    console.log(`every head equals its meter (${fail.finalMeter}): ${fail.conserved ? 'yes' : 'NO'}`);
  }
}
