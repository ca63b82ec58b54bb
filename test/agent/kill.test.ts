// Power-cut tests: the real CLI as a child process, SIGKILLed at each dangerous point, restarted:
// no seq reused with other content, no unit lost, no unit doubled.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli, type ChildRun } from './helpers/child-agent.js';
import { TestHub, waitFor } from '../../support/test-hub.js';

describe('tally-agent killed with SIGKILL', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const hub = new TestHub();
    await hub.start();
    const dir = mkdtempSync(join(tmpdir(), 'tally-agent-kill-'));
    cleanups.push(
      () => hub.stop(),
      () => rmSync(dir, { recursive: true, force: true }),
    );
    const data = join(dir, 'data');
    const init = runCli(['init', '--data', data, '--json']);
    expect(init.status).toBe(0);
    const publicKey = JSON.parse(init.stdout).publicKey as string;
    const counter = join(dir, 'counter');
    let value = 0n;
    const setCounter = (v: bigint) => {
      value = v;
      writeFileSync(counter, `${v}\n`);
    };
    setCounter(0n);
    const run = (env: Record<string, string> = {}): ChildRun => {
      const r = startCli(
        [
          'run',
          '--data',
          data,
          '--broker',
          hub.url,
          '--hub-key',
          hub.hubKeyHex,
          '--meter',
          `file:${counter}`,
          '--poll-ms',
          '20',
          '--batch',
          '16',
          '--batch-ms',
          '50',
          '--ack-timeout-ms',
          '1500',
          '--reconnect-min-ms',
          '20',
          '--reconnect-max-ms',
          '200',
        ],
        env,
      );
      cleanups.push(() => {
        r.child.kill('SIGKILL');
      });
      return r;
    };
    return {
      hub,
      data,
      publicKey,
      setCounter,
      get value() {
        return value;
      },
      run,
    };
  }

  /** Raises the counter in small steps until the child dies. */
  async function meterUntilDeath(t: Awaited<ReturnType<typeof setup>>, r: ChildRun) {
    let dead = false;
    void r.exited.then(() => {
      dead = true;
    });
    for (let i = 0; i < 2000 && !dead; i++) {
      t.setCounter(t.value + 7n);
      await new Promise((res) => setTimeout(res, 15));
    }
    return r.exited;
  }

  for (const point of ['before-commit', 'after-commit', 'after-publish'] as const) {
    it(`at ${point}: restart loses nothing, doubles nothing, reuses no seq`, async () => {
      const t = await setup();
      const first = t.run({ TALLY_AGENT_CRASH_AT: `${point}:3` });
      await waitFor(() => t.hub.channelOf(t.publicKey) !== undefined, 'grant', 30_000);
      const died = await meterUntilDeath(t, first);
      expect(died.signal).toBe('SIGKILL');
      const beforeRestart = t.hub.channelOf(t.publicKey)!.head.seq;

      const second = t.run();
      for (let i = 0; i < 10; i++) {
        t.setCounter(t.value + 5n);
        await new Promise((res) => setTimeout(res, 20));
      }
      const total = t.value;
      await waitFor(() => t.hub.channelOf(t.publicKey)?.head.cumUnits === total, `${total} units at the hub`, 30_000);
      const ch = t.hub.channelOf(t.publicKey)!;
      expect(ch.equivocations).toBe(0);
      expect(ch.head.seq).toBe(total);
      expect(ch.order).toEqual(Array.from({ length: Number(total) }, (_, i) => BigInt(i + 1)));
      expect(ch.head.seq).toBeGreaterThanOrEqual(beforeRestart);

      second.child.kill('SIGTERM');
      expect((await second.exited).code).toBe(0);
      const status = runCli(['status', '--data', t.data, '--json']);
      expect(status.status).toBe(0);
      const report = JSON.parse(status.stdout);
      expect(report.channel.cumUnits).toBe(total.toString());
    });
  }

  it('SIGTERM flushes pending units into a signed segment before exiting', async () => {
    const t = await setup();
    const r2 = startCli([
      'run',
      '--data',
      t.data,
      '--broker',
      t.hub.url,
      '--hub-key',
      t.hub.hubKeyHex,
      '--meter',
      `file:${join(t.data, '..', 'counter')}`,
      '--poll-ms',
      '20',
      '--batch',
      '1000',
      '--batch-ms',
      '600000',
    ]);
    cleanups.push(() => {
      r2.child.kill('SIGKILL');
    });
    await waitFor(() => r2.stderr().includes('CHANNEL_GRANTED'), 'the grant', 30_000);
    t.setCounter(5n); // fewer than a batch, and the batch timer is ten minutes away
    // No wait: stop() reads the meter once more before the final flush.
    r2.child.kill('SIGTERM');
    expect((await r2.exited).code).toBe(0);
    await waitFor(() => t.hub.channelOf(t.publicKey)?.head.cumUnits === 5n, 'the 5 flushed units at the hub', 30_000);
    const report = JSON.parse(runCli(['status', '--data', t.data, '--json']).stdout);
    expect(report.channel.cumUnits).toBe('5');
  });
  it('killed while units are held back (outbox full): the held units survive in the meter state', async () => {
    const t = await setup();
    const args = ['--max-backlog', '1024'];
    const first = startCli([
      'run',
      '--data',
      t.data,
      '--broker',
      t.hub.url,
      '--hub-key',
      t.hub.hubKeyHex,
      '--meter',
      `file:${join(t.data, '..', 'counter')}`,
      '--poll-ms',
      '20',
      '--batch',
      '64',
      '--batch-ms',
      '50',
      ...args,
    ]);
    cleanups.push(() => {
      first.child.kill('SIGKILL');
    });
    await waitFor(() => first.stderr().includes('CHANNEL_GRANTED'), 'the grant', 30_000);
    t.hub.acking = false;
    t.setCounter(1500n);
    await waitFor(() => first.stderr().includes('BACKLOG_FULL'), 'backlog full', 30_000);
    await new Promise((res) => setTimeout(res, 200)); // let a batch timer pass with the units held
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    t.hub.acking = true;
    const second = t.run();
    await waitFor(() => t.hub.channelOf(t.publicKey)?.head.cumUnits === 1500n, 'all 1500 units', 30_000);
    expect(t.hub.channelOf(t.publicKey)!.equivocations).toBe(0);
    expect(t.hub.channelOf(t.publicKey)!.order.length).toBe(1500);
    second.child.kill('SIGTERM');
    await second.exited;
  });
});
