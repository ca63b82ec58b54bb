// One contract for every OutboxStore implementation (STYLE: one suite, every implementation).
// `open` returns a fresh store; `reopen` simulates a restart on the same storage.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { FlushRecord, NewVoucher, OutboxStore } from '../../agent/outbox/types.js';

export interface OutboxHarness {
  open(deviceHex: string): OutboxStore;
  reopen(deviceHex: string): OutboxStore;
  cleanup(): void;
}

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const dev = (): string => Buffer.from(bytes(32)).toString('hex');
const genesis = (id: Uint8Array) => ({ seq: 0n, hash: id, cumUnits: 0n, cumAmount: 0n });

/** A flush of `count` one-unit vouchers after `prev`, cut into segments of `per`. */
export function makeFlush(
  channelId: Uint8Array,
  prev: { seq: bigint; cumUnits: bigint; hash: Uint8Array },
  count: number,
  per: number,
  price = 3n,
  baseline?: bigint,
): FlushRecord {
  const vouchers: NewVoucher[] = [];
  const segments = [];
  let segStart = prev.seq + 1n;
  let segPrev = prev.hash;
  for (let i = 1; i <= count; i++) {
    const seq = prev.seq + BigInt(i);
    const cumUnits = prev.cumUnits + BigInt(i);
    const v = {
      seq,
      cumUnits,
      cumAmount: cumUnits * price,
      deviceTimeMs: 1_700_000_000_000n + BigInt(i),
      hash: bytes(32),
    };
    vouchers.push(v);
    if (i % per === 0 || i === count) {
      segments.push({ firstSeq: segStart, lastSeq: seq, prevHash: segPrev, signature: bytes(64) });
      segStart = seq + 1n;
      segPrev = v.hash;
    }
  }
  const last = vouchers[vouchers.length - 1]!;
  return {
    channelId,
    vouchers,
    segments,
    head: { seq: last.seq, hash: last.hash, cumUnits: last.cumUnits, cumAmount: last.cumAmount },
    meter: { baseline: baseline ?? last.cumUnits, carried: 0n },
  };
}

export function outboxContract(name: string, harness: () => OutboxHarness): void {
  describe(`OutboxStore contract: ${name}`, () => {
    const withStore = (fn: (h: OutboxHarness, device: string, store: OutboxStore) => void) => () => {
      const h = harness();
      try {
        const device = dev();
        fn(h, device, h.open(device));
      } finally {
        h.cleanup();
      }
    };
    const openChannel = (store: OutboxStore, capacity = 1_000_000n) => {
      const channelId = bytes(32);
      store.saveChannel({ channelId, record: bytes(150), capacity, state: 'open' }, genesis(channelId));
      return channelId;
    };

    it(
      'starts empty: no channel, no receipt, no meter baseline',
      withStore((_h, device, store) => {
        const snap = store.load();
        expect(store.deviceHex).toBe(device);
        expect(snap.channel).toBeUndefined();
        expect(snap.receipt).toBeUndefined();
        expect(snap.meter).toEqual({ baseline: undefined, carried: 0n });
      }),
    );

    it(
      'keeps meter state across a reopen, including values above 2^63',
      withStore((h, device, store) => {
        const big = (1n << 64n) - 5n;
        store.saveMeter({ baseline: big, carried: 17n });
        expect(h.reopen(device).load().meter).toEqual({ baseline: big, carried: 17n });
      }),
    );

    it(
      'keeps fractional meter state exactly, and omits fractions that are zero',
      withStore((h, device, store) => {
        const m = { baseline: 1234n, carried: 3n, baselineNanos: 567_000_001n, carriedNanos: 999_999_999n };
        store.saveMeter(m);
        const again = h.reopen(device);
        expect(again.load().meter).toEqual(m);
        again.saveMeter({ baseline: 1235n, carried: 0n, baselineNanos: 0n, carriedNanos: 0n });
        expect(h.reopen(device).load().meter).toEqual({ baseline: 1235n, carried: 0n });
      }),
    );

    it(
      'keeps the last meter health for status, apart from the counter state',
      withStore((h, device, store) => {
        expect(store.load().meterHealth).toBeUndefined();
        store.saveMeter({ baseline: 7n, carried: 1n });
        store.saveMeterHealth({ state: 'stale', sinceMs: 1_700_000_000_000, detail: 'no reading for 900 s' });
        const snap = h.reopen(device).load();
        expect(snap.meterHealth).toEqual({
          state: 'stale',
          sinceMs: 1_700_000_000_000,
          detail: 'no reading for 900 s',
        });
        expect(snap.meter).toEqual({ baseline: 7n, carried: 1n });
      }),
    );

    it(
      'commits vouchers, segments, head and meter together and reads them back after a reopen',
      withStore((h, device, store) => {
        const channelId = openChannel(store);
        const flush = makeFlush(channelId, genesis(channelId), 10, 4, 3n, 1234n);
        store.commit(flush);
        const again = h.reopen(device);
        const snap = again.load();
        expect(snap.channel?.head.seq).toBe(10n);
        expect(snap.channel?.head.cumAmount).toBe(30n);
        expect(Buffer.from(snap.channel!.head.hash)).toEqual(Buffer.from(flush.head.hash));
        expect(snap.meter).toEqual({ baseline: 1234n, carried: 0n });
        const segs = again.segmentsAfter(channelId, 0n, 100);
        expect(segs.map((s) => [s.firstSeq, s.lastSeq])).toEqual([
          [1n, 4n],
          [5n, 8n],
          [9n, 10n],
        ]);
        expect(Buffer.from(segs[0]!.prevHash)).toEqual(Buffer.from(channelId));
        expect(Buffer.from(segs[1]!.prevHash)).toEqual(Buffer.from(flush.vouchers[3]!.hash));
        expect(segs[2]!.vouchers.map((v) => v.cumUnits)).toEqual([9n, 10n]);
        expect(again.depth(channelId)).toEqual({ vouchers: 10, segments: 3 });
      }),
    );

    it(
      'rolls back the whole flush when any row fails (seq reused)',
      withStore((_h, _device, store) => {
        const channelId = openChannel(store);
        const first = makeFlush(channelId, genesis(channelId), 5, 5);
        store.commit(first);
        const clash = makeFlush(channelId, { seq: 3n, cumUnits: 3n, hash: bytes(32) }, 5, 5, 3n, 999n);
        expect(() => store.commit(clash)).toThrow();
        const snap = store.load();
        expect(snap.channel?.head.seq).toBe(5n);
        expect(snap.meter.baseline).toBe(5n);
        expect(store.depth(channelId)).toEqual({ vouchers: 5, segments: 1 });
      }),
    );

    it(
      'cuts a segment to its tail after a mid-segment seq, linking to the previous voucher',
      withStore((_h, _device, store) => {
        const channelId = openChannel(store);
        const flush = makeFlush(channelId, genesis(channelId), 8, 8);
        store.commit(flush);
        const [tail] = store.segmentsAfter(channelId, 5n, 10);
        expect(tail?.firstSeq).toBe(6n);
        expect(tail?.lastSeq).toBe(8n);
        expect(Buffer.from(tail!.prevHash)).toEqual(Buffer.from(flush.vouchers[4]!.hash));
        expect(Buffer.from(tail!.signature)).toEqual(Buffer.from(flush.segments[0]!.signature));
        expect(store.segmentsAfter(channelId, 8n, 10)).toEqual([]);
        expect(store.segmentsAfter(channelId, 0n, 0)).toEqual([]);
      }),
    );

    it(
      'a receipt deletes exactly what it covers and is kept as proof',
      withStore((h, device, store) => {
        const channelId = openChannel(store);
        const flush = makeFlush(channelId, genesis(channelId), 12, 4);
        store.commit(flush);
        const v6 = flush.vouchers[5]!;
        const receiptBytes = bytes(162);
        store.applyReceipt({
          channelId,
          seq: 6n,
          headHash: v6.hash,
          cumUnits: 6n,
          cumAmount: 18n,
          bytes: receiptBytes,
        });
        const again = h.reopen(device);
        expect(again.depth(channelId)).toEqual({ vouchers: 6, segments: 2 });
        expect(again.voucherAt(channelId, 6n)).toBeUndefined();
        expect(again.voucherAt(channelId, 7n)?.cumUnits).toBe(7n);
        const snap = again.load();
        expect(snap.receipt?.seq).toBe(6n);
        expect(Buffer.from(snap.receipt!.bytes)).toEqual(Buffer.from(receiptBytes));
        // The tail of segment 5..8 links to the receipt's head hash now that voucher 6 is gone.
        const [tail] = again.segmentsAfter(channelId, 6n, 10);
        expect([tail?.firstSeq, tail?.lastSeq]).toEqual([7n, 8n]);
        expect(Buffer.from(tail!.prevHash)).toEqual(Buffer.from(v6.hash));
        expect(Buffer.from(again.hashAt(channelId, 6n)!)).toEqual(Buffer.from(v6.hash));
        expect(again.hashAt(channelId, 3n)).toBeUndefined();
        expect(Buffer.from(again.hashAt(channelId, 0n)!)).toEqual(Buffer.from(channelId));
      }),
    );

    it(
      'keeps a channel head when the channel is saved again, and switches the current channel',
      withStore((_h, _device, store) => {
        const a = openChannel(store);
        store.commit(makeFlush(a, genesis(a), 3, 3));
        const b = openChannel(store);
        expect(Buffer.from(store.load().channel!.channelId)).toEqual(Buffer.from(b));
        const again = store.saveChannel(
          { channelId: a, record: bytes(150), capacity: 5n, state: 'exhausted' },
          genesis(a),
        );
        expect(again.head.seq).toBe(3n);
        expect(again.capacity).toBe(5n);
        expect(store.load().channel?.state).toBe('exhausted');
        store.setChannelLimits(a, 99n, 'open');
        expect(store.load().channel?.capacity).toBe(99n);
      }),
    );

    it(
      'adopts a hub head ahead of the device, dropping vouchers it covers',
      withStore((_h, _device, store) => {
        const channelId = openChannel(store);
        store.commit(makeFlush(channelId, genesis(channelId), 6, 3));
        const hubHead = { seq: 9n, hash: bytes(32), cumUnits: 9n, cumAmount: 27n };
        store.adoptHead(channelId, hubHead);
        expect(store.depth(channelId)).toEqual({ vouchers: 0, segments: 0 });
        expect(store.load().channel?.head.seq).toBe(9n);
        const next = makeFlush(channelId, hubHead, 2, 2);
        store.commit(next);
        const [seg] = store.segmentsAfter(channelId, 9n, 5);
        expect(Buffer.from(seg!.prevHash)).toEqual(Buffer.from(hubHead.hash));
      }),
    );

    it('keeps devices apart when they share storage', () => {
      const h = harness();
      try {
        const d1 = dev();
        const d2 = dev();
        const s1 = h.open(d1);
        const s2 = h.open(d2);
        const c1 = openChannel(s1);
        s1.commit(makeFlush(c1, genesis(c1), 4, 2, 3n, 40n));
        s2.saveMeter({ baseline: 7n, carried: 1n });
        expect(s2.load().channel).toBeUndefined();
        expect(s2.load().meter).toEqual({ baseline: 7n, carried: 1n });
        expect(s1.load().meter.baseline).toBe(40n);
        expect(() => s2.segmentsAfter(c1, 0n, 10)).toThrow();
      } finally {
        h.cleanup();
      }
    });
  });
}
