// The main thread's handle on a shard, in the same thread or in a worker thread.
import { Worker } from 'node:worker_threads';
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

/**
 * The worker's entry. From the bundle: its own bundled file. From source (tsx, vitest): a small
 * bootstrap that registers tsx in the worker and then imports the TypeScript entry.
 */
function startWorker(init: ShardInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./tally-sim-shard.js', import.meta.url), { workerData: init });
  const entry = new URL('./shard-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

export function workerShard(init: ShardInit, onBatch: (b: ShardBatch) => void): ShardHost {
  const worker = startWorker(init);
  const waiting = new Map<'started' | 'final', { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let failure: Error | undefined;
  const failAll = (err: Error) => {
    failure ??= err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('message', (msg: FromShard) => {
    if (msg.type === 'batch') onBatch(msg.batch);
    else if (msg.type === 'error') failAll(new Error(`shard ${init.shardIndex}: ${msg.message}`));
    else {
      waiting.get(msg.type)?.resolve(msg.type === 'final' ? msg.final : undefined);
      waiting.delete(msg.type);
    }
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => failAll(new Error(`shard ${init.shardIndex} worker exited with code ${code}`)));
  const ask = <T>(kind: 'started' | 'final', msg: ToShard) =>
    new Promise<T>((resolve, reject) => {
      if (failure) return reject(failure);
      waiting.set(kind, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage(msg);
    });
  return {
    start: () => ask<void>('started', { type: 'start' }),
    stopProduction: () => worker.postMessage({ type: 'stop-production' } satisfies ToShard),
    finish: async () => {
      const final = await ask<ShardFinal>('final', { type: 'finish' });
      await worker.terminate();
      return final;
    },
  };
}
