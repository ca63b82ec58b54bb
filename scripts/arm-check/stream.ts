// One end-to-end stream from the installed agent (emulated) to a real hub on this machine (x64,
// in-process, its embedded broker and SQLite store): the meter counts, the agent is SIGKILLed
// while units are in flight, the meter keeps counting while it is dead, the agent restarts from
// its outbox, and at the end the hub must hold exactly the units metered: every seq once, the
// amount equal to units x price, no equivocation.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHub, type HubHandle } from '../../hub/server.js';

const PRICE = 3n;

export interface StreamResult {
  readonly metered: bigint;
  readonly hubUnits: bigint;
  readonly hubSeq: bigint;
  readonly hubAmount: bigint;
  readonly agentUnits: bigint;
  readonly equivocations: number;
  readonly killedAtHubUnits: bigint;
  readonly killedAtMetered: bigint;
  readonly firstGrantSeconds: number;
  readonly rss: { peakMiB: number; medianMiB: number; samples: number };
  readonly seconds: number;
  readonly conserved: boolean;
}

/** RSS of a process as the host sees it, sampled from /proc every 250 ms. */
class RssSampler {
  readonly samples: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  watch(pid: number) {
    this.stop();
    this.timer = setInterval(() => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) this.samples.push(Number(m[1]) / 1024);
      } catch {
        // the process is gone
      }
    }, 250);
  }
  stop() {
    if (this.timer) clearInterval(this.timer);
  }
  summary() {
    const s = [...this.samples].sort((a, b) => a - b);
    const r1 = (x: number) => Math.round(x * 10) / 10;
    return { peakMiB: r1(s.at(-1) ?? 0), medianMiB: r1(s[Math.floor(s.length / 2)] ?? 0), samples: s.length };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, timeoutMs: number) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(50);
  }
}

export async function streamWithKill(opts: {
  /** The installed command (the artifact's bin/tally-agent). */
  agent: string;
  data: string;
  publicKey: string;
  workDir: string;
  log: (s: string) => void;
}): Promise<StreamResult> {
  const { agent, data, publicKey, workDir, log } = opts;
  const t0 = Date.now();
  mkdirSync(join(workDir, 'hub'), { recursive: true });
  const hub: HubHandle = await startHub({
    dataDir: join(workDir, 'hub'),
    mqttListen: '127.0.0.1:0',
    http: '127.0.0.1:0',
    credentialWindowMs: 600_000,
  });
  const children: ChildProcess[] = [];
  const rss = new RssSampler();
  try {
    await hub.core.enrol([{ publicKey, unit: 'Wh', pricePerUnit: PRICE, capacity: 1_000_000_000n }]);
    const channel = () => hub.core.showDevice(publicKey).channelDetails[0]!;
    const hubUnits = () => BigInt(channel().head.cumUnits);

    const counterFile = join(workDir, 'meter');
    let metered = 0n;
    const meter = (v: bigint) => {
      metered = v;
      writeFileSync(counterFile, `${v}\n`);
    };
    meter(0n);

    const start = () => {
      // The systemd unit's memory settings, as the agent runs on a board.
      const env = {
        ...process.env,
        MALLOC_ARENA_MAX: '1',
        UV_THREADPOOL_SIZE: '1',
        NODE_OPTIONS: '--max-semi-space-size=1 --max-old-space-size=48 --v8-pool-size=0',
      };
      const child = spawn(
        agent,
        [
          'run',
          '--data',
          data,
          '--broker',
          hub.mqttUrl,
          '--hub-key',
          hub.publicKeyHex,
          '--meter',
          `file:${counterFile}`,
          '--poll-ms',
          '100',
          '--batch',
          '32',
          '--batch-ms',
          '250',
          '--ack-timeout-ms',
          '5000',
          '--reconnect-min-ms',
          '100',
          '--reconnect-max-ms',
          '1000',
        ],
        { env, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      children.push(child);
      rss.watch(child.pid!);
      return { child, exited, stderr: () => stderr };
    };

    // 1. Start, wait for the channel, stream.
    const first = start();
    await until(() => first.stderr().includes('CHANNEL_GRANTED'), 'the channel grant', 180_000);
    const firstGrantSeconds = (Date.now() - t0) / 1000;
    log(`   channel granted after ${firstGrantSeconds.toFixed(1)} s`);
    while (hubUnits() < 400n) {
      meter(metered + 7n);
      await sleep(40);
      if (first.child.exitCode !== null) throw new Error(`agent exited early:\n${first.stderr()}`);
    }
    // 2. SIGKILL while the meter runs ahead of what the hub holds.
    for (let i = 0; i < 10; i++) {
      meter(metered + 7n);
      await sleep(20);
    }
    const killedAtHubUnits = hubUnits();
    const killedAtMetered = metered;
    first.child.kill('SIGKILL');
    const died = await first.exited;
    if (died.signal !== 'SIGKILL') throw new Error(`agent was not killed: ${JSON.stringify(died)}`);
    log(`   SIGKILL with ${killedAtMetered} units metered, ${killedAtHubUnits} at the hub`);
    meter(metered + 250n); // counted while the agent is down

    // 3. Restart from the outbox, keep metering, then let it drain.
    const second = start();
    for (let i = 0; i < 100; i++) {
      meter(metered + 11n);
      await sleep(40);
    }
    const total = metered;
    await until(() => hubUnits() === total, `${total} units at the hub`, 180_000);
    second.child.kill('SIGTERM');
    const stopped = await second.exited;
    if (stopped.code !== 0)
      throw new Error(`agent did not stop cleanly: ${JSON.stringify(stopped)}\n${second.stderr()}`);
    rss.stop();

    const status = spawnSync(agent, ['status', '--data', data, '--json'], { encoding: 'utf8' });
    if (status.status !== 0) throw new Error(`tally-agent status failed: ${status.stderr}`);
    const agentUnits = BigInt((JSON.parse(status.stdout) as { channel: { cumUnits: string } }).channel.cumUnits);

    const ch = channel();
    const equivocations = (await hub.core.showChannel(ch.channelId)).equivocations.length + (ch.equivocated ? 1 : 0);
    const result = {
      metered: total,
      hubUnits: BigInt(ch.head.cumUnits),
      hubSeq: BigInt(ch.head.seq),
      hubAmount: BigInt(ch.head.cumAmount),
      agentUnits,
      equivocations,
      killedAtHubUnits,
      killedAtMetered,
      firstGrantSeconds,
      rss: rss.summary(),
      seconds: (Date.now() - t0) / 1000,
    };
    // One voucher per unit: seq = units; the amount is exact; the agent signed what the hub holds.
    const conserved =
      result.hubUnits === total &&
      result.hubSeq === total &&
      result.hubAmount === total * PRICE &&
      result.agentUnits === total &&
      equivocations === 0;
    return { ...result, conserved };
  } finally {
    rss.stop();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await hub.close();
  }
}
