// The reorder buffer keeps the registry's set of channels with gaps exact: the gap sweep walks
// that set, not every channel, so a channel missing from it would never be given up.
import { describe, expect, it } from 'vitest';
import { bufferSegment, dropWaiting, takeReady } from '../../hub/ingest/reorder.js';
import { Registry, type LiveChannel, type WaitingSegment } from '../../hub/model/registry.js';

const limits = { perChannel: 8, total: 100 };
const channel = (seq: bigint) => ({ waiting: [] as WaitingSegment[], head: { seq } }) as unknown as LiveChannel;
const segment = (firstSeq: bigint) => ({ firstSeq, lastSeq: firstSeq }) as WaitingSegment;

describe('reorder buffer', () => {
  it('tracks exactly the channels that hold waiting segments', () => {
    const registry = new Registry();
    const a = channel(0n);
    const b = channel(0n);
    expect(bufferSegment(registry, a, segment(3n), limits)).toBe('waiting');
    expect(bufferSegment(registry, a, segment(2n), limits)).toBe('waiting');
    expect(bufferSegment(registry, b, segment(5n), limits)).toBe('waiting');
    expect([...registry.waitingChannels]).toEqual([a, b]);
    expect(takeReady(registry, a)).toBeUndefined(); // seq 1 is still missing
    (a as { head: { seq: bigint } }).head.seq = 1n;
    expect(takeReady(registry, a)?.firstSeq).toBe(2n);
    expect(registry.waitingChannels.has(a)).toBe(true);
    (a as { head: { seq: bigint } }).head.seq = 2n;
    expect(takeReady(registry, a)?.firstSeq).toBe(3n);
    expect(registry.waitingChannels.has(a)).toBe(false);
    expect(dropWaiting(registry, b)).toHaveLength(1);
    expect(registry.waitingChannels.size).toBe(0);
    expect(registry.waitingTotal).toBe(0);
  });
});
