// Agent benchmark: `npx tsx bench/agent.ts [--seconds N] [--bundle FILE]` (build first: `npm run build`;
// --bundle measures another build of the agent, e.g. one of an older commit, in the same run).
// - RSS of the bundled agent (dist/tally-agent.js, plain node) streaming sim:10000 to a hub;
// - CPU microseconds per unit at 1, 100 and 10,000 units/s: the Agent library runs in this process
//   (broker and hub run in another), process.cpuUsage() over a fixed window / units committed;
// - outbox disk bytes per unit: vouchers committed in 64-voucher segments, as the agent does.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fromHex, generateKeyPair, genesisHead, toHex } from '../protocol/index.js';
import { Agent } from '../agent/agent.js';
import { buildFlush } from '../agent/chain.js';
import { systemClock } from '../agent/clock.js';
import { createSimMeter } from '../agent/meter/sim.js';
import { openOutboxDatabase, openSqliteOutbox } from '../agent/outbox/sqlite.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const secondsArg = process.argv.indexOf('--seconds');
const WINDOW_S = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 10;
const bundleArg = process.argv.indexOf('--bundle');
const BUNDLE = bundleArg > 0 ? process.argv[bundleArg + 1]! : 'dist/tally-agent.js';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startHub(): Promise<{ proc: ChildProcess; url: string; hubKey: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/agent/hub-process.ts'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve) => createInterface({ input: proc.stdout! }).once('line', resolve));
  const info = JSON.parse(line) as { url: string; hubKey: string };
  return { proc, ...info };
}

/** VmRSS and its private (anonymous) part, in KiB. The rest is mostly the node binary's own pages. */
function rssKiB(pid: number): { rss: number; anon: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)\\s+kB`).exec(text)?.[1] ?? 0);
  return { rss: field('VmRSS'), anon: field('RssAnon') };
}

/** The node flags and environment of the systemd unit in docs/agent.md. */
// The systemd unit's settings (docs/agent.md): a small V8 heap, no V8 worker pool, one libuv
// thread and one malloc arena. Each idle thread or arena holds resident memory a board lacks.
export const UNIT_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=48', '--v8-pool-size=0'];
export const UNIT_ENV = { MALLOC_ARENA_MAX: '1', UV_THREADPOOL_SIZE: '1' };

async function bundledRss(
  hub: { url: string; hubKey: string },
  dir: string,
  label: string,
  nodeFlags: string[],
  env: Record<string, string>,
) {
  const dist = join(ROOT, BUNDLE);
  if (!existsSync(dist)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` first`);
  const data = join(dir, `rss-${label.replace(/[^a-z0-9]+/gi, '-')}`);
  const init = spawn(process.execPath, [dist, 'init', '--data', data, '--json']);
  await new Promise((r) => init.once('exit', r));
  const agent = spawn(
    process.execPath,
    [
      ...nodeFlags,
      dist,
      'run',
      '--data',
      data,
      '--broker',
      hub.url,
      '--hub-key',
      hub.hubKey,
      '--meter',
      'sim:10000',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } },
  );
  await sleep(2000);
  let peak = 0;
  let peakAnon = 0;
  const samples: number[] = [];
  const end = Date.now() + WINDOW_S * 1000;
  while (Date.now() < end) {
    const r = rssKiB(agent.pid!);
    samples.push(r.rss);
    peak = Math.max(peak, r.rss);
    peakAnon = Math.max(peakAnon, r.anon);
    await sleep(250);
  }
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  const statusOut = spawn(process.execPath, [dist, 'status', '--data', data, '--json']);
  let text = '';
  statusOut.stdout.on('data', (d: Buffer) => {
    text += d.toString();
  });
  await new Promise((r) => statusOut.once('exit', r));
  const units = (JSON.parse(text) as { channel?: { cumUnits: string } }).channel?.cumUnits ?? '0';
  samples.sort((a, b) => a - b);
  return {
    label,
    peakMiB: peak / 1024,
    anonMiB: peakAnon / 1024,
    medianMiB: samples[Math.floor(samples.length / 2)]! / 1024,
    units,
  };
}

async function cpuPerUnit(hub: { url: string; hubKey: string }, dir: string, rate: number) {
  const db = openOutboxDatabase(join(dir, `cpu-${rate}.db`));
  const keyPair = generateKeyPair();
  const agent = new Agent({
    keyPair,
    hubKey: fromHex(hub.hubKey)!,
    store: openSqliteOutbox(db, toHex(keyPair.publicKey)),
    meter: createSimMeter(BigInt(rate) * 1000n, systemClock),
    broker: { url: hub.url },
  });
  agent.start();
  while (agent.snapshot().channel === undefined) await sleep(20);
  await sleep(1500); // warm up
  const u0 = agent.counters.vouchersCommitted;
  const c0 = process.cpuUsage();
  await sleep(WINDOW_S * 1000);
  const c1 = process.cpuUsage(c0);
  const units = agent.counters.vouchersCommitted - u0;
  await agent.stop();
  db.close();
  const micros = c1.user + c1.system;
  return { rate, units, cpuMicros: micros, perUnit: units > 0n ? micros / Number(units) : NaN };
}

function diskPerUnit(dir: string, units = 200_000) {
  const path = join(dir, 'disk.db');
  const db = openOutboxDatabase(path);
  const kp = generateKeyPair();
  const store = openSqliteOutbox(db, toHex(kp.publicKey));
  const channelId = new Uint8Array(32).fill(1);
  store.saveChannel(
    { channelId, record: new Uint8Array(150), capacity: 1n << 62n, state: 'open' },
    genesisHead(channelId),
  );
  let head = genesisHead(channelId);
  for (let done = 0; done < units; done += 64) {
    const b = buildFlush({
      channelId,
      head,
      units: 64,
      pricePerUnit: 1_000n,
      batch: 64,
      deviceTimeMs: BigInt(Date.now()),
      secretKey: kp.secretKey,
      meter: { baseline: BigInt(done + 64), carried: 0n },
    });
    store.commit(b.record);
    head = b.record.head;
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  const bytes = statSync(path).size;
  const { page_count: pages, freelist_count: free } = {
    page_count: db.pragma('page_count', { simple: true }) as number,
    freelist_count: db.pragma('freelist_count', { simple: true }) as number,
  };
  db.close();
  return { units: Number(head.seq), bytes, perUnit: bytes / Number(head.seq), pages, free };
}

const dir = mkdtempSync(join(tmpdir(), 'tally-bench-agent-'));
const hub = await startHub();
try {
  const rss = [
    await bundledRss(hub, dir, `node ${BUNDLE}`, [], {}),
    await bundledRss(
      hub,
      dir,
      `systemd unit (${UNIT_NODE_FLAGS.join(' ')}, MALLOC_ARENA_MAX=1, UV_THREADPOOL_SIZE=1)`,
      UNIT_NODE_FLAGS,
      UNIT_ENV,
    ),
  ];
  const cpu = [];
  for (const rate of [1, 100, 10_000]) cpu.push(await cpuPerUnit(hub, dir, rate));
  const disk = diskPerUnit(dir);
  console.log(`tally-agent benchmark (window ${WINDOW_S} s, node ${process.version}, ${process.arch})`);
  console.log('| measure | value |');
  console.log('|---|---|');
  for (const r of rss) {
    console.log(
      `| RSS streaming sim:10000, ${r.label}: peak / median (private part at peak) | ${r.peakMiB.toFixed(1)} / ${r.medianMiB.toFixed(1)} MiB (${r.anonMiB.toFixed(1)} MiB), ${r.units} units signed |`,
    );
  }
  for (const c of cpu) {
    console.log(
      `| CPU per unit at ${c.rate.toLocaleString('en-US')} unit${c.rate === 1 ? '' : 's'}/s | ${c.perUnit.toFixed(1)} µs (${c.cpuMicros} µs for ${c.units} units) |`,
    );
  }
  console.log(
    `| outbox disk per unit (${disk.units.toLocaleString('en-US')} vouchers, 64 per segment) | ${disk.perUnit.toFixed(1)} bytes (${disk.bytes} bytes) |`,
  );
} finally {
  hub.proc.stdin!.end();
  await new Promise((r) => hub.proc.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
