// Hub ingest benchmark: `npx tsx bench/hub-ingest.ts [--devices N] [--vouchers64 N] [--vouchers1 N]
// [--verify-workers N] [--commit-delay MS] [--store sqlite|postgres] [--hubs N] [--no-mosquitto] [--json]
// [--stall-s S]`
// (or `npm run bench hub-ingest`).
// `--hubs N` runs a cluster instead: N `tally-hub start --cluster hI --store postgres://...` child
// processes on one throwaway PostgreSQL and a plain aedes broker in this process; the devices are
// enrolled through the first hub, the others join, and the clock starts once the partitions are
// split. bench/cluster.ts runs this three ways and prints one table.
// End to end: publishers -> broker -> hub -> SQLite commit (WAL, synchronous=FULL) -> receipt
// back to the publisher; the clock runs from "go" until every device holds a receipt covering
// its last seq. Two shapes: chained segments of 64 vouchers, and one voucher (one signature) per
// segment. The same payloads are then sent through a plain aedes broker (no hooks) to one MQTT.js
// subscriber in this process: the raw broker rate the hub is compared with, in the same run.
// The devices run in a child process (bench/hub-ingest/publisher.ts) with segments signed before
// the clock starts; the hub and its embedded broker run here. `--store postgres` puts the ledger in
// a throwaway PostgreSQL server on this machine (support/postgres.ts) with fsync and
// synchronous_commit on, as docs/scale-out.md configures one; the server competes for the same
// cores as the hub and the publishers.
import { fork, type ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { generateKeyPair, toHex, type KeyPair } from '../protocol/index.js';
import { startHub, type HubHandle } from '../hub/server.js';
import { startProcessCluster } from '../support/process-cluster.js';
import { findPostgres, startPostgres, type RunningPostgres } from '../support/postgres.js';
import type { DeviceSpec, FromChild, ToChild } from './hub-ingest/publisher.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const DEVICES = arg('devices', 32);
const VOUCHERS_64 = arg('vouchers64', 640_000);
const VOUCHERS_1 = arg('vouchers1', 100_000);
const VERIFY_WORKERS = process.argv.includes('--verify-workers') ? arg('verify-workers', 1) : undefined;
const COMMIT_DELAY_MS = arg('commit-delay', 0);
const STORE = process.argv.includes('--store') ? process.argv[process.argv.indexOf('--store') + 1] : 'sqlite';
if (STORE !== 'sqlite' && STORE !== 'postgres') throw new Error('--store is sqlite or postgres');
const HUBS = process.argv.includes('--hubs') ? arg('hubs', 1) : 0;
if (HUBS !== 0 && !(Number.isInteger(HUBS) && HUBS >= 1)) throw new Error('--hubs is a whole number >= 1');
const JSON_OUT = process.argv.includes('--json');
const STALL_MS = arg('stall-s', 600) * 1000;
const say = (line: string) => {
  if (!JSON_OUT) console.log(line);
};

/** What a run needs of the hub (or cluster) under test. */
export interface IngestTarget {
  mqttUrl: string;
  publicKeyHex: string;
  /** Enrols the keys; each one's channel id, in order. */
  enrol(keys: KeyPair[]): Promise<string[]>;
}

const hubTarget = (hub: HubHandle): IngestTarget => ({
  mqttUrl: hub.mqttUrl,
  publicKeyHex: hub.publicKeyHex,
  enrol: async (keys) =>
    (
      await hub.core.enrol(
        keys.map((k) => ({ publicKey: toHex(k.publicKey), unit: 'Wh', pricePerUnit: 3n, capacity: 1n << 62n })),
      )
    ).map((e) => e.channel.channelId),
});

function child(): {
  proc: ChildProcess;
  next: <K extends FromChild['kind']>(kind: K) => Promise<Extract<FromChild, { kind: K }>>;
  tell: (m: ToChild) => void;
} {
  const proc = fork(fileURLToPath(new URL('./hub-ingest/publisher.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  return {
    proc,
    tell: (m) => proc.send(m),
    next: (kind) =>
      new Promise((resolve, reject) => {
        const onMessage = (m: FromChild) => {
          if (m.kind !== kind) return;
          proc.off('message', onMessage);
          resolve(m as never);
        };
        proc.on('message', onMessage);
        proc.once('exit', (code) => reject(new Error(`publisher exited with ${code}`)));
      }),
  };
}

async function rawBroker() {
  const broker = await Aedes.createBroker({ concurrency: 1_000 });
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface Result {
  shape: string;
  vouchers: number;
  messages: number;
  e2eMs: number;
  rawMs: number;
}

async function run(
  hub: IngestTarget,
  perSegment: number,
  totalVouchers: number,
  rawUrl?: string,
  keys: KeyPair[] = Array.from({ length: DEVICES }, () => generateKeyPair()),
): Promise<Result> {
  const segmentsPerDevice = Math.max(1, Math.round(totalVouchers / perSegment / DEVICES));
  const enrolled = await hub.enrol(keys);
  const devices: DeviceSpec[] = keys.map((k, i) => ({
    secretHex: toHex(k.secretKey),
    publicHex: toHex(k.publicKey),
    channelIdHex: enrolled[i]!,
    price: '3',
  }));
  const c = child();
  c.tell({ kind: 'setup', url: hub.mqttUrl, hubKeyHex: hub.publicKeyHex, devices, perSegment, segmentsPerDevice });
  await c.next('ready');
  const t0 = performance.now();
  c.tell({ kind: 'go' });
  // A run that stops making progress fails (and cleans up) instead of hanging the benchmark.
  let stall: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    c.next('done'),
    new Promise<never>((_, reject) => {
      stall = setTimeout(() => {
        c.proc.kill();
        reject(new Error(`not every device had its last receipt within ${STALL_MS / 1000} s (--stall-s)`));
      }, STALL_MS);
    }),
  ]).finally(() => clearTimeout(stall));
  const e2eMs = performance.now() - t0;

  // The same payloads through a plain broker to one subscriber here, in the same run.
  const raw = rawUrl ? { url: rawUrl, close: async () => {} } : await rawBroker();
  const sub = await mqtt.connectAsync(raw.url, { clientId: 'raw-sub', protocolVersion: 4 });
  await sub.subscribeAsync('raw/#', { qos: 1 });
  c.tell({ kind: 'raw-setup', url: raw.url });
  const { messages } = await c.next('raw-ready');
  let received = 0;
  const allIn = new Promise<void>((resolve) => sub.on('message', () => ++received === messages && resolve()));
  const t1 = performance.now();
  c.tell({ kind: 'raw-go' });
  await allIn;
  const rawMs = performance.now() - t1;
  c.tell({ kind: 'exit' });
  await sub.endAsync();
  await raw.close();
  return { shape: `segments of ${perSegment}`, vouchers: done.vouchers, messages, e2eMs, rawMs };
}

/** A throwaway Mosquitto for the benchmark only: plain TCP on 127.0.0.1, anonymous, no queue limits
 *  (the production configuration with TLS and ACLs is in docs/operations.md). */
async function startBenchMosquitto(dir: string): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  const bin = [process.env.TALLY_MOSQUITTO_BIN, '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'].find(
    (b) => b && existsSync(b),
  );
  if (!bin) return undefined;
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'max_inflight_messages 0',
      'max_queued_messages 0',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      `user ${userInfo().username}`,
      '',
    ].join('\n'),
  );
  const proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  await new Promise((r) => setTimeout(r, 500));
  if (proc.exitCode !== null) return undefined;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((r) => {
        proc.once('exit', () => r());
        proc.kill('SIGTERM');
      }),
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function table(results: Result[]): void {
  if (JSON_OUT) return;
  console.log('shape               vouchers  e2e vouchers/s  e2e msgs/s  raw broker msgs/s  ratio');
  for (const r of results) {
    const e2eMsgs = r.messages / (r.e2eMs / 1000);
    const rawMsgs = r.messages / (r.rawMs / 1000);
    console.log(
      `${r.shape.padEnd(18)} ${fmt(r.vouchers).padStart(9)}  ${fmt(r.vouchers / (r.e2eMs / 1000)).padStart(14)}  ${fmt(e2eMsgs).padStart(10)}  ${fmt(rawMsgs).padStart(17)}  ${(e2eMsgs / rawMsgs).toFixed(2).padStart(5)}`,
    );
  }
}

async function overMosquitto(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-bench-mosq-'));
  const mosquitto = await startBenchMosquitto(dir);
  if (!mosquitto) {
    console.log('\nMosquitto: NOT RUN (no mosquitto binary; install it or set TALLY_MOSQUITTO_BIN)');
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const hub = await startHub({
    dataDir: join(dir, 'data'),
    brokerUrl: mosquitto.url,
    http: '127.0.0.1:0',
    network: 'bench',
    commitDelayMs: COMMIT_DELAY_MS,
  });
  try {
    const results = [
      await run(hubTarget(hub), 64, VOUCHERS_64, mosquitto.url),
      await run(hubTarget(hub), 1, VOUCHERS_1, mosquitto.url),
    ];
    console.log(`\nsame over Mosquitto (plain TCP, hub with --broker; raw = same Mosquitto to one subscriber):`);
    table(results);
    checkCommitted(results, await hub.core.stats(), (line) => console.log(line));
  } finally {
    await hub.close();
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-bench-hub-'));
  let postgres: RunningPostgres | undefined;
  if (STORE === 'postgres') {
    if (!findPostgres()) {
      console.log('PostgreSQL: NOT RUN (no PostgreSQL binaries; install postgresql or set TALLY_PG_BIN)');
      process.exitCode = 1;
      return;
    }
    postgres = await startPostgres({ durable: true });
  }
  const hub = await startHub({
    dataDir: dir,
    mqttListen: '127.0.0.1:0',
    http: '127.0.0.1:0',
    network: 'bench',
    commitDelayMs: COMMIT_DELAY_MS,
    ...(postgres ? { store: await postgres.createDatabase('bench') } : {}),
    ...(VERIFY_WORKERS !== undefined ? { verifyWorkers: VERIFY_WORKERS } : {}),
  });
  try {
    const results = [await run(hubTarget(hub), 64, VOUCHERS_64), await run(hubTarget(hub), 1, VOUCHERS_1)];
    const stats = await hub.core.stats();
    const store = postgres
      ? 'PostgreSQL on this machine (fsync and synchronous_commit on)'
      : `SQLite WAL synchronous=${hub.config.sqliteSynchronous}`;
    report(results, stats.acceptedVouchers, stats.rejectedVouchers, { hubs: 1, store: String(STORE) });
    say(
      `tally hub ingest: ${DEVICES} devices, embedded aedes, ${store}, ` +
        `${hub.config.verifyWorkers} signature worker(s), commit delay ${hub.config.commitDelayMs} ms, node ${process.version}, ${availableParallelism()} cores`,
    );
    table(results);
    checkCommitted(results, stats);
  } finally {
    await hub.close();
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints what was committed against what was sent; a run that lost or doubled a voucher exits 1. */
function checkCommitted(
  results: Result[],
  stats: { acceptedVouchers: string; rejectedVouchers: string },
  print: (line: string) => void = say,
): void {
  const expected = results.reduce((n, r) => n + r.vouchers, 0);
  print(`committed vouchers ${stats.acceptedVouchers} (expected ${expected}), rejected ${stats.rejectedVouchers}`);
  if (stats.acceptedVouchers !== String(expected)) process.exitCode = 1;
}

/** `--json`: one line a script (bench/cluster.ts) reads; committed must equal the vouchers sent. */
function report(results: Result[], accepted: string, rejected: string, what: { hubs: number; store: string }): void {
  if (!JSON_OUT) return;
  const expected = results.reduce((n, r) => n + r.vouchers, 0);
  console.log(
    JSON.stringify({
      ...what,
      devices: DEVICES,
      cores: availableParallelism(),
      node: process.version,
      results: results.map((r) => ({
        shape: r.shape,
        vouchers: r.vouchers,
        messages: r.messages,
        e2eMs: Math.round(r.e2eMs),
        vouchersPerSecond: Math.round(r.vouchers / (r.e2eMs / 1000)),
        rawBrokerMessagesPerSecond: Math.round(r.messages / (r.rawMs / 1000)),
      })),
      committed: accepted,
      expected: String(expected),
      rejected,
      conserved: accepted === String(expected),
    }),
  );
}

/** `--hubs N`: the same two runs against N cluster hubs in child processes on one PostgreSQL. */
async function clusterMain(): Promise<void> {
  if (!findPostgres()) {
    console.log('PostgreSQL: NOT RUN (no PostgreSQL binaries; install postgresql or set TALLY_PG_BIN)');
    process.exitCode = 1;
    return;
  }
  // Both runs' devices are enrolled before the other hubs join, as an operator would enrol a fleet.
  const keys64 = Array.from({ length: DEVICES }, () => generateKeyPair());
  const keys1 = Array.from({ length: DEVICES }, () => generateKeyPair());
  const cluster = await startProcessCluster(HUBS);
  try {
    await cluster.start(0);
    const all = [...keys64, ...keys1].map((k) => toHex(k.publicKey));
    const ids = new Map((await cluster.enrol(all)).map((id, i) => [all[i]!, id]));
    for (let i = 1; i < HUBS; i++) await cluster.start(i);
    await cluster.waitForSplit();
    const target: IngestTarget = {
      mqttUrl: cluster.brokerUrl,
      publicKeyHex: toHex(cluster.identity.keyPair.publicKey),
      enrol: async (keys) => keys.map((k) => ids.get(toHex(k.publicKey))!),
    };
    const results = [
      await run(target, 64, VOUCHERS_64, undefined, keys64),
      await run(target, 1, VOUCHERS_1, undefined, keys1),
    ];
    const stats = await cluster.stats();
    report(results, stats.acceptedVouchers, stats.rejectedVouchers, { hubs: HUBS, store: 'postgres' });
    say(
      `tally hub ingest: ${HUBS} cluster hubs (tally-hub start --cluster, child processes), ${DEVICES} devices, ` +
        `plain aedes broker in the bench process, PostgreSQL on this machine (fsync and synchronous_commit on), ` +
        `node ${process.version}, ${availableParallelism()} cores`,
    );
    table(results);
    checkCommitted(results, stats);
  } finally {
    await cluster.close();
  }
}

if (HUBS > 0) await clusterMain();
else {
  await main();
  if (!process.argv.includes('--no-mosquitto') && !JSON_OUT) await overMosquitto();
}
