import { describe, expect, it } from 'vitest';
import { genesisHead, generateKeyPair, verifySegment } from '../../protocol/index.js';
import { buildFlush, unitsAllowed } from '../../agent/chain.js';

describe('buildFlush', () => {
  const kp = generateKeyPair();
  const channelId = new Uint8Array(32).fill(9);
  const ctx = { channelId, deviceKey: kp.publicKey, pricePerUnit: 3n, capacity: 10_000n };

  it('makes one voucher per unit, cut into batches, each segment verifying against the previous head', () => {
    const built = buildFlush({
      channelId,
      head: genesisHead(channelId),
      units: 10,
      pricePerUnit: 3n,
      batch: 4,
      deviceTimeMs: 5n,
      secretKey: kp.secretKey,
      meter: { baseline: 10n, carried: 0n },
    });
    expect(built.segments.map((s) => s.vouchers.length)).toEqual([4, 4, 2]);
    expect(built.record.vouchers.map((v) => v.seq)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i + 1)));
    expect(built.record.vouchers.map((v) => v.cumAmount)).toEqual(
      Array.from({ length: 10 }, (_, i) => BigInt(i + 1) * 3n),
    );
    let head = genesisHead(channelId);
    for (const s of built.segments) {
      const v = verifySegment(s, head, ctx);
      expect(v.ok).toBe(true);
      if (v.ok) head = v.value.head;
    }
    expect(head.seq).toBe(10n);
    expect(Buffer.from(head.hash)).toEqual(Buffer.from(built.record.head.hash));
    expect(built.record.segments.map((s) => [s.firstSeq, s.lastSeq])).toEqual([
      [1n, 4n],
      [5n, 8n],
      [9n, 10n],
    ]);
  });

  it('continues a chain from an existing head', () => {
    const a = buildFlush({
      channelId,
      head: genesisHead(channelId),
      units: 3,
      pricePerUnit: 3n,
      batch: 64,
      deviceTimeMs: 1n,
      secretKey: kp.secretKey,
      meter: { baseline: 3n, carried: 0n },
    });
    const b = buildFlush({
      channelId,
      head: a.record.head,
      units: 2,
      pricePerUnit: 3n,
      batch: 64,
      deviceTimeMs: 2n,
      secretKey: kp.secretKey,
      meter: { baseline: 5n, carried: 0n },
    });
    expect(verifySegment(b.segments[0]!, a.record.head, ctx).ok).toBe(true);
    expect(b.record.head.cumUnits).toBe(5n);
  });

  it('rejects a non-positive unit count', () => {
    expect(() =>
      buildFlush({
        channelId,
        head: genesisHead(channelId),
        units: 0,
        pricePerUnit: 1n,
        batch: 1,
        deviceTimeMs: 0n,
        secretKey: kp.secretKey,
        meter: { baseline: 0n, carried: 0n },
      }),
    ).toThrow(RangeError);
  });
});

describe('unitsAllowed', () => {
  const head = (units: bigint, amount: bigint) => ({
    seq: units,
    hash: new Uint8Array(32),
    cumUnits: units,
    cumAmount: amount,
  });
  it('stops exactly at capacity and never goes negative', () => {
    expect(unitsAllowed(head(0n, 0n), 5n, 150n)).toBe(30n);
    expect(unitsAllowed(head(29n, 145n), 5n, 150n)).toBe(1n);
    expect(unitsAllowed(head(30n, 150n), 5n, 150n)).toBe(0n);
    expect(unitsAllowed(head(30n, 150n), 5n, 100n)).toBe(0n);
    expect(unitsAllowed(head(0n, 0n), 7n, 6n)).toBe(0n);
  });
  it('is bounded by the store for a free channel', () => {
    expect(unitsAllowed(head(0n, 0n), 0n, 1n)).toBe((1n << 63n) - 1n);
  });
});
