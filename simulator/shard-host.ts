// The main process's handle on a shard: in the same process, or in a child process. Large fleets
// use child processes: each has its own file-descriptor limit (10,000 devices are 10,000 client
// sockets, and the embedded hub holds the other end of each) and its own core.
import { fork, type ChildProcess } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Shard, type ShardBatch, type ShardFinal, type ShardInit } from './shard.js';
import type { ToShard } from './shard-worker.js';

export interface ShardHost {
  start(): Promise<void>;
  stopProduction(): void;
  finish(): Promise<ShardFinal>;
}

export function localShard(init: ShardInit, onBatch: (b: ShardBatch) => void): ShardHost {
  const shard = new Shard(init, onBatch);
  return { start: () => shard.start(), stopProduction: () => shard.stopProduction(), finish: () => shard.finish() };
}

type FromShard =
  | { type: 'started' }
  | { type: 'batch'; batch: ShardBatch }
  | { type: 'final'; final: ShardFinal }
  | { type: 'error'; message: string };

/** From the bundle: the bundled shard beside it. From source (tsx, vitest): the .ts entry via tsx. */
function startChild(): ChildProcess {
  const options = {
    serialization: 'advanced' as const,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[],
  };
  if (!import.meta.url.endsWith('.ts'))
    return fork(fileURLToPath(new URL('./tally-sim-shard.js', import.meta.url)), [], options);
  return fork(fileURLToPath(new URL('./shard-worker.ts', import.meta.url)), [], {
    ...options,
    execArgv: ['--import', 'tsx'],
  });
}

/** A shard in a child process, at niceness `nice` (0: the parent's priority). */
export function processShard(init: ShardInit, onBatch: (b: ShardBatch) => void, nice = 0): ShardHost {
  const child = startChild();
  // Only ever up from this process's niceness (going down needs privileges). Should it fail, the
  // fleet runs at this process's priority, which only makes the figures more pessimistic.
  if (nice > getPriority() && child.pid !== undefined)
    try {
      setPriority(child.pid, nice);
    } catch {
      /* see above */
    }
  const waiting = new Map<'started' | 'final', { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let failure: Error | undefined;
  let finished = false;
  const failAll = (err: Error) => {
    failure ??= err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  child.on('message', (msg: FromShard) => {
    if (msg.type === 'batch') onBatch(msg.batch);
    else if (msg.type === 'error') failAll(new Error(`shard ${init.shardIndex}: ${msg.message}`));
    else {
      waiting.get(msg.type)?.resolve(msg.type === 'final' ? msg.final : undefined);
      waiting.delete(msg.type);
    }
  });
  child.on('error', (err) => failAll(err));
  child.on('exit', (code, signal) => {
    if (!finished) failAll(new Error(`shard ${init.shardIndex} exited early (${signal ?? `code ${code}`})`));
  });
  const send = (msg: ToShard) => child.send(msg);
  send({ type: 'init', init });
  const ask = <T>(kind: 'started' | 'final', msg: ToShard) =>
    new Promise<T>((resolve, reject) => {
      if (failure) return reject(failure);
      waiting.set(kind, { resolve: resolve as (v: unknown) => void, reject });
      send(msg);
    });
  return {
    start: () => ask<void>('started', { type: 'start' }),
    stopProduction: () => {
      if (!failure) send({ type: 'stop-production' });
    },
    finish: async () => {
      if (finished) throw new Error('shard already finished');
      const final = await ask<ShardFinal>('final', { type: 'finish' });
      finished = true;
      if (child.exitCode === null) child.kill();
      return final;
    },
  };
}
