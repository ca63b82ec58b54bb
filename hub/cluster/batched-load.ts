// Partition loads asked for together are read together: a hub that takes many partitions at once
// (alone at start, or the last survivor of a cluster) pays one pair of queries and one wait for the
// group commit per batch instead of per partition. A load asked for while one runs joins the next.

export type LoadPartitions = (partitions: number[]) => Promise<unknown>;

interface Waiting {
  partition: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** One partition's load, batched with those asked for in the same turn or while one runs. */
export function batchedLoad(loadAll: LoadPartitions): (partition: number) => Promise<void> {
  let queued: Waiting[] = [];
  let running = false;
  const run = async () => {
    while (queued.length > 0) {
      const batch = queued;
      queued = [];
      try {
        await loadAll(batch.map((w) => w.partition));
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    running = false;
  };
  return (partition) =>
    new Promise<void>((resolve, reject) => {
      queued.push({ partition, resolve, reject });
      if (running) return;
      running = true;
      // After this turn, so the loads asked for in the same loop share the first batch.
      queueMicrotask(() => void run());
    });
}
