// Child-process entry of a shard: the main process sends init / start / stop-production / finish
// over IPC (structured clone, so bigints travel), the shard posts its batches back. Bundled as
// dist/tally-sim-shard.js.
import { getPriority } from 'node:os';
import { Shard, type ShardInit } from './shard.js';

export type ToShard =
  { type: 'init'; init: ShardInit } | { type: 'start' } | { type: 'stop-production' } | { type: 'finish' };

const send = (msg: unknown) => process.send!(msg);
let shard: Shard | undefined;

process.on('message', (msg: ToShard) => {
  const run = async () => {
    if (msg.type === 'init') shard = new Shard(msg.init, (batch) => send({ type: 'batch', batch }));
    else if (msg.type === 'start') {
      await shard!.start();
      send({ type: 'started' });
    } else if (msg.type === 'stop-production') shard!.stopProduction();
    else {
      const final = await shard!.finish();
      const cpu = process.cpuUsage();
      final.usage = {
        cpuS: (cpu.user + cpu.system) / 1e6,
        maxRssMiB: process.resourceUsage().maxRSS / 1024,
        nice: getPriority(),
      };
      // Not process.disconnect() here: it can drop this (large) message before it is flushed.
      // The main process ends this process once it has the report.
      send({ type: 'final', final });
    }
  };
  run().catch((err: Error) => send({ type: 'error', message: err.stack ?? err.message }));
});
// The main process went away: nothing left to report to.
process.on('disconnect', () => process.exit(0));
// The main process ends this one with SIGTERM once it has the report: exit normally, so that what
// Node writes at exit (a --cpu-prof profile, a --heap-prof) is written.
process.on('SIGTERM', () => process.exit(0));
