// Several support/lease-node.ts processes on one database, with what each holds as its event lines
// say: the cluster's ownership, without brokers or devices, for failover tests and timings.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface LeaseEvent {
  ev: 'ready' | 'gain' | 'lose';
  p?: number;
  token?: string;
  reason?: string;
  at: number;
}

export interface LeaseNode {
  readonly id: string;
  readonly held: Map<number, bigint>;
  readonly events: LeaseEvent[];
  readonly alive: boolean;
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a process that stalls (GC pause, swapped out, suspended VM). */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startLeaseNode(
  url: string,
  id: string,
  partitions: number,
  leaseMs?: number,
): Promise<LeaseNode> {
  const args = ['--import', 'tsx', 'support/lease-node.ts', url, id, String(partitions)];
  if (leaseMs) args.push(String(leaseMs));
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const held = new Map<number, bigint>();
  const events: LeaseEvent[] = [];
  let alive = true;
  const exited = new Promise<void>((r) =>
    child.once('exit', () => {
      alive = false;
      r();
    }),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`lease node ${id} exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const e = JSON.parse(line) as LeaseEvent;
      events.push(e);
      if (e.ev === 'gain') held.set(e.p!, BigInt(e.token!));
      if (e.ev === 'lose') held.delete(e.p!);
      if (e.ev === 'ready') resolve();
    });
  });
  await ready;
  return {
    id,
    held,
    events,
    get alive() {
      return alive;
    },
    async kill() {
      if (!alive) return;
      child.kill('SIGKILL');
      await exited;
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    async stop() {
      if (!alive) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
