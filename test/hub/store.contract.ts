// One contract suite for every HubStore implementation: SQLite on a real file (store.test.ts) and
// PostgreSQL on a throwaway server (store-postgres.test.ts).
import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { CommitBatch, HubStore, NewChannel, SegmentRow } from '../../hub/store/types.js';
import { partitionOf } from '../../protocol/index.js';

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

function newChannel(deviceKey: Uint8Array): NewChannel {
  return {
    channelId: bytes(32),
    deviceKey,
    record: bytes(100),
    unit: 'Wh',
    pricePerUnit: 3n,
    capacity: 18_000_000_000_000_000_000n, // above 2^63: must survive as a u64
    openedAtMs: 1_700_000_000_000n,
    expiresAtMs: 0n,
  };
}

function segment(channelId: Uint8Array, first: bigint, last: bigint, cumUnits: bigint): SegmentRow {
  return {
    channelId,
    firstSeq: first,
    newFromSeq: first,
    lastSeq: last,
    headHash: bytes(32),
    cumUnits,
    cumAmount: cumUnits * 3n,
    bytes: bytes(200),
    receivedAtMs: 1n,
  };
}

const emptyBatch = (): CommitBatch => ({
  segments: [],
  heads: [],
  rejections: [],
  equivocations: [],
  equivocatedChannels: [],
});

export interface StoreUnderTest {
  store: HubStore;
  /** Opens the same database again (after store.close()). */
  reopen: () => Promise<HubStore>;
  cleanup: () => void | Promise<void>;
}

export function runStoreContract(name: string, open: () => Promise<StoreUnderTest>) {
  describe(`HubStore contract: ${name}`, () => {
    let ctx: StoreUnderTest;
    let store: HubStore;
    beforeEach(async () => {
      ctx = await open();
      store = ctx.store;
    });
    afterEach(async () => {
      await store.close();
      await ctx.cleanup();
    });

    it('enrols a device with its channel and reads them back with u64 values intact', async () => {
      const dev = bytes(32);
      const ch = newChannel(dev);
      const stored = await store.enrol([{ deviceKey: dev, atMs: 5n, channel: ch }]);
      const d = (await store.getDevice(dev))!;
      expect(Buffer.from(d.deviceKey)).toEqual(Buffer.from(dev));
      expect(d.revokedAtMs).toBeNull();
      const c = (await store.getChannel(ch.channelId))!;
      expect(c.capacity).toBe(ch.capacity);
      expect(c.state).toBe('open');
      expect(c.head.seq).toBe(0n);
      expect(Buffer.from(c.head.hash)).toEqual(Buffer.from(ch.channelId)); // genesis head [P-4.3]
      expect(await store.listChannels({ deviceKey: dev })).toHaveLength(1);
      expect(stored).toEqual([c]); // what enrol returns is what is stored
    });

    it('lists the devices and channels of some partitions [P-6.7], as the protocol computes them', async () => {
      const keys = Array.from({ length: 60 }, () => bytes(32));
      const channels = keys.map((k) => newChannel(k));
      const stored = await store.enrol(keys.map((k, i) => ({ deviceKey: k, atMs: BigInt(i), channel: channels[i]! })));
      const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
      // Returned in the order given, as stored.
      expect(stored.map((c) => hex(c.channelId))).toEqual(channels.map((c) => hex(c.channelId)));
      for (const c of stored) expect(c).toEqual(await store.getChannel(c.channelId));
      const wanted = [partitionOf(keys[0]!), partitionOf(keys[1]!)];
      const inWanted = keys.filter((k) => wanted.includes(partitionOf(k))).map(hex);
      expect((await store.listDevices({ partitions: wanted })).map((d) => hex(d.deviceKey))).toEqual(inWanted);
      const chans = await store.listChannels({ partitions: wanted });
      expect(chans.map((c) => hex(c.deviceKey)).sort()).toEqual([...inWanted].sort());
      expect(chans.map((c) => hex(c.channelId)).sort()).toEqual(
        channels
          .filter((c) => inWanted.includes(hex(c.deviceKey)))
          .map((c) => hex(c.channelId))
          .sort(),
      );
      expect(await store.listDevices({ partitions: [] })).toEqual([]);
      expect(await store.listDevices()).toHaveLength(60);
    });

    it('enrols a batch atomically: one duplicate key leaves nothing behind', async () => {
      const a = bytes(32);
      await store.enrol([{ deviceKey: a, atMs: 1n, channel: newChannel(a) }]);
      const b = bytes(32);
      await expect(
        store.enrol([
          { deviceKey: b, atMs: 2n, channel: newChannel(b) },
          { deviceKey: a, atMs: 2n, channel: newChannel(a) },
        ]),
      ).rejects.toThrowError(expect.objectContaining({ code: 'STORE_CONFLICT' }));
      expect(await store.getDevice(b)).toBeUndefined();
      expect(await store.listDevices()).toHaveLength(1);
    });

    it('commits segments and heads, and refuses a head move from a stale seq without writing anything', async () => {
      const dev = bytes(32);
      const ch = newChannel(dev);
      await store.enrol([{ deviceKey: dev, atMs: 1n, channel: ch }]);
      const s1 = segment(ch.channelId, 1n, 64n, 64n);
      const batch = emptyBatch();
      batch.segments.push(s1);
      batch.heads.push({
        channelId: ch.channelId,
        expectedSeq: 0n,
        head: { seq: 64n, hash: s1.headHash, cumUnits: 64n, cumAmount: 192n },
        state: 'open',
        receipt: bytes(162),
        atMs: 2n,
      });
      await store.commit(batch);
      expect((await store.getChannel(ch.channelId))!.head.seq).toBe(64n);

      // Replaying the same batch must fail as a whole: the segment is not inserted twice and the
      // rejection in it is not counted.
      const replay = {
        ...batch,
        rejections: [
          {
            atMs: 3n,
            stage: 'verify',
            reason: 'SIG_INVALID',
            deviceKey: dev,
            channelId: ch.channelId,
            seq: 1n,
            vouchers: 1,
            detail: null,
          },
        ],
      };
      await expect(store.commit(replay)).rejects.toThrow();
      expect(await store.countSegments(ch.channelId)).toBe(1);
      expect(await store.rejectionCounts()).toEqual([]);
      const c = (await store.getChannel(ch.channelId))!;
      expect(c.head.cumAmount).toBe(192n);
      expect(c.receipt).not.toBeNull();
    });

    it('keeps every byte of a many-channel commit, and a head moved without a receipt keeps the last one', async () => {
      const chs = [newChannel(bytes(32)), newChannel(bytes(32)), newChannel(bytes(32))];
      await store.enrol(chs.map((channel) => ({ deviceKey: channel.deviceKey, atMs: 1n, channel })));
      const batch = emptyBatch();
      const segs = chs.map((ch, i) => ({ ...segment(ch.channelId, 1n, 10n, 10n), bytes: bytes(100 + i * 700) }));
      const receipts = [bytes(162), null, bytes(162)];
      batch.segments.push(...segs);
      chs.forEach((ch, i) =>
        batch.heads.push({
          channelId: ch.channelId,
          expectedSeq: 0n,
          head: { seq: 10n, hash: segs[i]!.headHash, cumUnits: 10n, cumAmount: 30n },
          state: 'open',
          receipt: receipts[i] ?? null,
          atMs: 2n,
        }),
      );
      await store.commit(batch);
      for (const [i, ch] of chs.entries()) {
        const stored = (await store.segmentEndingAt(ch.channelId, 10n))!;
        expect(Buffer.from(stored.bytes).equals(Buffer.from(segs[i]!.bytes))).toBe(true);
        expect(Buffer.from(stored.headHash).equals(Buffer.from(segs[i]!.headHash))).toBe(true);
        const c = (await store.getChannel(ch.channelId))!;
        expect(Buffer.from(c.head.hash).equals(Buffer.from(segs[i]!.headHash))).toBe(true);
        if (receipts[i]) expect(Buffer.from(c.receipt!).equals(Buffer.from(receipts[i]!))).toBe(true);
        else expect(c.receipt ?? null).toBeNull();
      }
      // The next head of the first channel comes without a receipt: the stored one stays.
      const next = emptyBatch();
      next.heads.push({
        channelId: chs[0]!.channelId,
        expectedSeq: 10n,
        head: { seq: 20n, hash: bytes(32), cumUnits: 20n, cumAmount: 60n },
        state: 'open',
        receipt: null,
        atMs: 3n,
      });
      await store.commit(next);
      const first = (await store.getChannel(chs[0]!.channelId))!;
      expect(first.head.seq).toBe(20n);
      expect(Buffer.from(first.receipt!).equals(Buffer.from(receipts[0]!))).toBe(true);
    });

    it('finds the segment holding a seq and the one ending at a seq', async () => {
      const dev = bytes(32);
      const ch = newChannel(dev);
      await store.enrol([{ deviceKey: dev, atMs: 1n, channel: ch }]);
      const batch = emptyBatch();
      batch.segments.push(segment(ch.channelId, 1n, 10n, 10n), segment(ch.channelId, 11n, 20n, 20n));
      await store.commit(batch);
      expect((await store.segmentContaining(ch.channelId, 10n))!.lastSeq).toBe(10n);
      expect((await store.segmentContaining(ch.channelId, 11n))!.firstSeq).toBe(11n);
      expect(await store.segmentContaining(ch.channelId, 21n)).toBeUndefined();
      expect((await store.segmentEndingAt(ch.channelId, 20n))!.cumUnits).toBe(20n);
      expect(await store.segmentEndingAt(ch.channelId, 15n)).toBeUndefined();
    });

    it('counts rejections by reason and keeps a pruned log', async () => {
      const batch = emptyBatch();
      for (let i = 0; i < 5; i++) {
        batch.rejections.push({
          atMs: BigInt(i),
          stage: 'decode',
          reason: i < 3 ? 'DECODE_TRUNCATED' : 'SEQ_GAP',
          deviceKey: null,
          channelId: null,
          seq: null,
          vouchers: i + 1,
          detail: null,
        });
      }
      await store.commit(batch);
      const counts = Object.fromEntries((await store.rejectionCounts()).map((c) => [c.reason, [c.events, c.vouchers]]));
      expect(counts).toEqual({ DECODE_TRUNCATED: [3n, 6n], SEQ_GAP: [2n, 9n] });
      await store.pruneRejections(2);
      expect(await store.recentRejections({ limit: 10 })).toHaveLength(2);
      expect(await store.recentRejections({ limit: 10, reason: 'SEQ_GAP' })).toHaveLength(2);
      expect(await store.rejectionCounts()).toHaveLength(2); // counts survive pruning
    });

    it('keeps equivocation evidence, flags its channels, and counts it', async () => {
      const [a, b] = [newChannel(bytes(32)), newChannel(bytes(32))];
      await store.enrol([a, b].map((channel) => ({ deviceKey: channel.deviceKey, atMs: 1n, channel })));
      expect(await store.countEquivocations()).toBe(0);
      const batch = emptyBatch();
      const evidence = (channelId: Uint8Array, seq: bigint) => ({
        channelId,
        seq,
        storedHash: bytes(32),
        segment: bytes(200),
        detectedAtMs: 7n,
      });
      batch.equivocations.push(evidence(a.channelId, 3n), evidence(a.channelId, 9n), evidence(b.channelId, 1n));
      batch.equivocatedChannels.push(a.channelId, b.channelId);
      await store.commit(batch);
      expect(await store.countEquivocations()).toBe(3);
      expect(await store.listEquivocations()).toHaveLength(3);
      expect((await store.listEquivocations(a.channelId)).map((e) => e.seq)).toEqual([3n, 9n]);
      expect((await store.getChannel(a.channelId))!.equivocated).toBe(true);
      expect((await store.getChannel(b.channelId))!.equivocated).toBe(true);
    });

    it('revokes a device and all its channels', async () => {
      const dev = bytes(32);
      const ch = newChannel(dev);
      await store.enrol([{ deviceKey: dev, atMs: 1n, channel: ch }]);
      expect(await store.revokeDevice(dev, 9n)).toBe(true);
      expect((await store.getDevice(dev))!.revokedAtMs).toBe(9n);
      expect((await store.getChannel(ch.channelId))!.state).toBe('revoked');
      expect(await store.revokeDevice(bytes(32), 9n)).toBe(false);
    });

    it("keeps each device's broker credential floor, which only rises [P-6.4]", async () => {
      const dev = bytes(32);
      await store.enrol([{ deviceKey: dev, atMs: 1n, channel: newChannel(dev) }]);
      expect((await store.getDevice(dev))!.credentialFloorMs).toBe(0n);
      const floors = (issuedAtMs: bigint) => ({
        segments: [],
        heads: [],
        rejections: [],
        equivocations: [],
        equivocatedChannels: [],
        credentialFloors: [{ deviceKey: dev, issuedAtMs }],
      });
      await store.commit(floors(1_700_000_000_000n));
      expect((await store.getDevice(dev))!.credentialFloorMs).toBe(1_700_000_000_000n);
      await store.commit(floors(5n));
      expect((await store.listDevices())[0]!.credentialFloorMs).toBe(1_700_000_000_000n);
    });

    it('closes an epoch atomically and refuses to settle a channel twice from the same point', async () => {
      const dev = bytes(32);
      const ch = newChannel(dev);
      await store.enrol([{ deviceKey: dev, atMs: 1n, channel: ch }]);
      const close = {
        epoch: {
          epoch: 1n,
          closedAtMs: 5n,
          record: bytes(50),
          signature: bytes(64),
          root: bytes(32),
          entryCount: 1,
          totalDeltaAmount: 30n,
        },
        entries: [{ epoch: 1n, channelId: ch.channelId, entry: bytes(177), toSeq: 10n }],
        settled: [
          {
            channelId: ch.channelId,
            expectedSettledSeq: 0n,
            head: { seq: 10n, hash: bytes(32), cumUnits: 10n, cumAmount: 30n },
          },
        ],
      };
      await store.closeEpoch(close);
      expect((await store.lastEpoch())!.epoch).toBe(1n);
      expect((await store.getChannel(ch.channelId))!.settled.cumAmount).toBe(30n);
      // Same settled guard again (as after a crash and retry): nothing of epoch 2 may remain.
      const again = { ...close, epoch: { ...close.epoch, epoch: 2n }, entries: [{ ...close.entries[0]!, epoch: 2n }] };
      await expect(store.closeEpoch(again)).rejects.toThrow();
      expect(await store.listEpochs()).toHaveLength(1);
      expect(await store.epochEntries(2n)).toEqual([]);
    });

    it("keeps each epoch's anchor once, and lists the epochs still without one, oldest first", async () => {
      const epoch = (n: bigint) => ({
        epoch: {
          epoch: n,
          closedAtMs: n,
          record: bytes(50),
          signature: bytes(64),
          root: bytes(32),
          entryCount: 0,
          totalDeltaAmount: 0n,
        },
        entries: [],
        settled: [],
      });
      expect(await store.anchorStatus()).toEqual({ pending: 0, lastAnchored: null });
      for (const n of [1n, 2n, 3n]) await store.closeEpoch(epoch(n));
      expect((await store.unanchoredEpochs(2)).map((e) => e.epoch)).toEqual([1n, 2n]);
      expect(await store.anchorStatus()).toEqual({ pending: 3, lastAnchored: null });
      await store.setEpochAnchor(1n, '{"txHash":"0x01"}');
      await store.setEpochAnchor(1n, '{"txHash":"0x02"}'); // a second anchor for an epoch changes nothing
      expect(await store.epochAnchor(1n)).toBe('{"txHash":"0x01"}');
      expect(await store.epochAnchor(2n)).toBeUndefined();
      expect((await store.unanchoredEpochs(10)).map((e) => e.epoch)).toEqual([2n, 3n]);
      expect(await store.anchorStatus()).toEqual({ pending: 2, lastAnchored: 1n });
    });

    it('keeps everything across close and reopen', async () => {
      const dev = bytes(32);
      const ch = newChannel(dev);
      await store.enrol([{ deviceKey: dev, atMs: 1n, channel: ch }]);
      await store.setMeta('network', 'site-1');
      await store.setChannelCapacity(ch.channelId, 99n, 'open', 3n);
      await store.close();
      store = await ctx.reopen();
      expect(await store.getMeta('network')).toBe('site-1');
      expect((await store.getChannel(ch.channelId))!.capacity).toBe(99n);
    });
  });
}
