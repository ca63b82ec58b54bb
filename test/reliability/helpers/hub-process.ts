// A hub in a child process (hub-child.ts) whose resident memory the test reads from /proc while it
// attacks it: the memory cases measure the hub alone, not the test runner. Devices are enrolled in
// the data dir before the hub starts (the core on the same SQLite file), so the test can connect
// them with the ordinary test device.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { HubConfigInput } from '../../../hub/base/config.js';
import type { HubHandle } from '../../../hub/server.js';
import { fromHex } from '../../../protocol/index.js';

export interface HubProcess {
  readonly child: ChildProcess;
  readonly mqttUrl: string;
  readonly httpUrl: string;
  readonly hubKey: Uint8Array;
  /** Enough of a HubHandle for TestDevice.connect() (enrolment happened before the start). */
  readonly handle: HubHandle;
  /** Resident set size of the hub process now, in MiB. */
  rssMiB(): number;
  /** Rejection events by reason, from the hub's API. */
  rejections(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb[1]) / 1024;
}

export async function startHubProcess(dataDir: string, extra: HubConfigInput = {}): Promise<HubProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/reliability/helpers/hub-child.ts',
      dataDir,
      '127.0.0.1:0',
      '0',
      '0',
      JSON.stringify(extra),
    ],
    { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ready = await new Promise<{ mqttUrl: string; httpUrl: string; publicKey: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hub child did not start')), 30_000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as { mqttUrl: string; httpUrl: string; publicKey: string });
    });
    child.once('exit', (code) => reject(new Error(`hub child exited with ${code}`)));
  });
  const hubKey = fromHex(ready.publicKey)!;
  const pid = child.pid!;
  return {
    child,
    mqttUrl: ready.mqttUrl,
    httpUrl: ready.httpUrl,
    hubKey,
    handle: { mqttUrl: ready.mqttUrl, hubKey: { publicKey: hubKey } } as unknown as HubHandle,
    rssMiB: () => rssOf(pid),
    async rejections() {
      const body = (await (await fetch(`${ready.httpUrl}/api/rejections?limit=1`)).json()) as {
        counts: { reason: string; events: string }[];
      };
      return Object.fromEntries(body.counts.map((c) => [c.reason, Number(c.events)]));
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Samples a process's RSS every few ms until stopped; returns the highest seen, in MiB. */
export function sampleRss(pid: number, everyMs = 20): { stop(): number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      // the process is gone; the peak so far stands
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      try {
        peak = Math.max(peak, rssOf(pid));
      } catch {
        // gone
      }
      return peak;
    },
  };
}
