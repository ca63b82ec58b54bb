// Worker-thread entry of a shard: the main thread sends start / stop-production / finish, the
// shard posts its batches back. Bundled as dist/tally-sim-shard.js.
import { parentPort, workerData } from 'node:worker_threads';
import { Shard, type ShardInit } from './shard.js';

export type ToShard = { type: 'start' } | { type: 'stop-production' } | { type: 'finish' };

const port = parentPort!;
const shard = new Shard(workerData as ShardInit, (batch) => port.postMessage({ type: 'batch', batch }));

port.on('message', (msg: ToShard) => {
  const run = async () => {
    if (msg.type === 'start') {
      await shard.start();
      port.postMessage({ type: 'started' });
    } else if (msg.type === 'stop-production') {
      shard.stopProduction();
    } else {
      port.postMessage({ type: 'final', final: await shard.finish() });
    }
  };
  run().catch((err: Error) => port.postMessage({ type: 'error', message: err.stack ?? err.message }));
});
