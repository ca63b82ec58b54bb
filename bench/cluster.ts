// bench/cluster: what a cluster of hubs costs. This first part times OWNERSHIP failover: three
// members (support/lease-node.ts, one LeaseManager each) on one PostgreSQL database with the
// default lease (6 s, renewed every 2 s); the member holding the most partitions is SIGKILLed, and
// the time is taken from the kill to the moment the survivors hold the first and the last of its
// partitions. The killed member is then restarted and the split allowed to settle before the next
// kill. The ingest figures (one hub on SQLite vs PostgreSQL vs three hubs) and the time to the
// first receipt from the new owner need the PostgreSQL store wired into the hub; they are not here
// yet.
//
//   npx tsx bench/cluster.ts                    # 20 kills, 64 partitions, default lease
//   TALLY_BENCH_KILLS=5 TALLY_BENCH_LEASE_MS=3000 npx tsx bench/cluster.ts
import { startLeaseNode, type LeaseNode } from '../support/lease-cluster.js';
import { startPostgres } from '../support/postgres.js';

const kills = Number(process.env.TALLY_BENCH_KILLS ?? 20);
const partitions = Number(process.env.TALLY_BENCH_PARTITIONS ?? 64);
const leaseMs = process.env.TALLY_BENCH_LEASE_MS ? Number(process.env.TALLY_BENCH_LEASE_MS) : undefined;
const json = process.argv.includes('--json');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}
const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};

const pg = await startPostgres({ durable: true });
const nodes: LeaseNode[] = [];
const first: number[] = [];
const last: number[] = [];
try {
  const url = await pg.createDatabase();
  const ids = ['hub-1', 'hub-2', 'hub-3'];
  for (const id of ids) nodes.push(await startLeaseNode(url, id, partitions, leaseMs));
  const share = Math.ceil(partitions / 3);
  const settled = () => {
    const all = nodes.flatMap((n) => [...n.held.keys()]);
    return new Set(all).size === partitions && all.length === partitions && nodes.every((n) => n.held.size <= share);
  };
  await until(settled);
  for (let k = 0; k < kills; k++) {
    const i = nodes.reduce((best, n, j) => (n.held.size > nodes[best]!.held.size ? j : best), 0);
    const victim = nodes[i]!;
    const lost = [...victim.held.keys()];
    const survivors = nodes.filter((n) => n !== victim);
    const killedAt = Date.now();
    await victim.kill();
    await until(() => lost.every((p) => survivors.some((n) => n.held.has(p))));
    const gains = survivors
      .flatMap((n) => n.events)
      .filter((e) => e.ev === 'gain' && e.at >= killedAt && lost.includes(e.p!))
      .map((e) => e.at - killedAt);
    first.push(Math.min(...gains));
    last.push(Math.max(...gains));
    if (!json)
      console.log(
        `kill ${k + 1}/${kills}: ${victim.id} held ${lost.length}; first taken after ${first.at(-1)} ms, all after ${last.at(-1)} ms`,
      );
    nodes[i] = await startLeaseNode(url, victim.id, partitions, leaseMs);
    await until(settled);
  }
  const summary = {
    kills,
    partitions,
    leaseMs: leaseMs ?? 6000,
    firstTakenMs: { p50: pct(first, 0.5), p99: pct(first, 0.99), max: Math.max(...first) },
    allTakenMs: { p50: pct(last, 0.5), p99: pct(last, 0.99), max: Math.max(...last) },
  };
  if (json) console.log(JSON.stringify(summary));
  else {
    console.log(`\nownership failover, ${kills} SIGKILLs, ${partitions} partitions, lease ${summary.leaseMs} ms`);
    console.log(`| from SIGKILL to | p50 | p99 | max |`);
    console.log(`|---|---|---|---|`);
    for (const [name, v] of [
      ['first partition taken', summary.firstTakenMs],
      ['all partitions taken', summary.allTakenMs],
    ] as const)
      console.log(`| ${name} | ${v.p50} ms | ${v.p99} ms | ${v.max} ms |`);
  }
} finally {
  for (const n of nodes) await n.stop().catch(() => {});
  await pg.stop();
}
