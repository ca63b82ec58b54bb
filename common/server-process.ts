// What the throwaway servers the tests and the simulator start (nats-server, Mosquitto) have in
// common: finding the binary, and stopping a process for sure.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The binary named by `envVar`, else the first of `paths` that exists, else `name` on the PATH. */
export function findBinary(envVar: string, paths: string[], name: string): string | undefined {
  for (const c of [process.env[envVar], ...paths]) if (c && existsSync(c)) return c;
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Sends `signal` and waits for the exit; SIGKILL if the process is still there after `graceMs`. */
export async function stopProcess(p: ChildProcess, signal: NodeJS.Signals, graceMs = 5_000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill(signal);
  const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
