// Partition loads asked for together are read in one batch; one asked for while a batch runs joins
// the next; a failed batch fails only its own callers.
import { expect, it } from 'vitest';
import { batchedLoad } from '../../hub/cluster/batched-load.js';

function recorder(fail?: (partitions: number[]) => boolean) {
  const batches: number[][] = [];
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const load = batchedLoad(async (partitions) => {
    batches.push(partitions);
    await gate;
    if (fail?.(partitions)) throw new Error(`cannot load ${partitions.join(',')}`);
  });
  return {
    batches,
    load,
    open() {
      release();
      gate = new Promise<void>((r) => (release = r));
    },
  };
}

it('reads the partitions asked for in one turn in one batch', async () => {
  const r = recorder();
  const all = Promise.all([1, 2, 3, 4].map((p) => r.load(p)));
  await Promise.resolve();
  await Promise.resolve();
  expect(r.batches).toEqual([[1, 2, 3, 4]]);
  r.open();
  await all;
  expect(r.batches).toEqual([[1, 2, 3, 4]]);
});

it('puts a load asked for while a batch runs into the next batch, and resolves each with its own', async () => {
  const r = recorder();
  let firstDone = false;
  const first = r.load(1).then(() => (firstDone = true));
  await new Promise((res) => setImmediate(res));
  const later = [r.load(7), r.load(8)];
  await new Promise((res) => setImmediate(res));
  expect(r.batches).toEqual([[1]]); // 7 and 8 wait for the running batch
  r.open();
  await first;
  expect(firstDone).toBe(true);
  await new Promise((res) => setImmediate(res));
  expect(r.batches).toEqual([[1], [7, 8]]);
  r.open();
  await Promise.all(later);
});

it('fails only the callers of the batch that failed', async () => {
  const r = recorder((parts) => parts.includes(2));
  const bad = [r.load(2), r.load(3)].map((p) =>
    p.then(
      () => 'ok',
      (e: Error) => e.message,
    ),
  );
  await new Promise((res) => setImmediate(res));
  const good = r.load(5);
  r.open();
  expect(await Promise.all(bad)).toEqual(['cannot load 2,3', 'cannot load 2,3']);
  await new Promise((res) => setImmediate(res));
  r.open();
  await expect(good).resolves.toBeUndefined();
  expect(r.batches).toEqual([[2, 3], [5]]);
});
