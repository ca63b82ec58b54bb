// verifySegment over arbitrary chains [P-4.3, P-4.5]: every honestly built chain verifies and
// returns the builder's head; any single change to a voucher is refused with a known code; and
// arbitrary segments against arbitrary heads never make it throw.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildSegment,
  genesisHead,
  REASONS,
  U64_MAX,
  verifySegment,
  type Head,
  type VoucherFields,
} from '../../protocol/index.js';
import * as arb from './arbitraries.js';
import { device, makeChannel } from './fixtures.js';

const ch = makeChannel({ capacity: U64_MAX });
const steps = fc.array(fc.bigInt({ min: 1n, max: 1000n }), { minLength: 1, maxLength: 30 });

function vouchersFor(prev: Head, increments: bigint[], price: bigint): VoucherFields[] {
  let units = prev.cumUnits;
  return increments.map((step, j) => {
    units += step;
    return { cumUnits: units, cumAmount: units * price, deviceTimeMs: BigInt(j) };
  });
}

describe('verifySegment properties', () => {
  it('accepts every honest chain of segments and agrees with the builder', () => {
    fc.assert(
      fc.property(fc.array(steps, { minLength: 1, maxLength: 4 }), (segments) => {
        let head = genesisHead(ch.channelId);
        for (const increments of segments) {
          const built = buildSegment({
            channelId: ch.channelId,
            prev: head,
            vouchers: vouchersFor(head, increments, 7n),
            secretKey: device.secretKey,
          });
          const result = verifySegment(built.segment, head, ch.ctx);
          expect(result.ok).toBe(true);
          if (!result.ok) return;
          expect(result.value.head).toEqual(built.head);
          expect(result.value.hashes).toEqual(built.hashes);
          head = result.value.head;
        }
      }),
      { numRuns: 50 },
    );
  });

  it('refuses any single changed voucher field with a known code', () => {
    const field = fc.constantFrom('cumUnits', 'cumAmount', 'deviceTimeMs' as const);
    fc.assert(
      fc.property(steps, fc.nat(), field, fc.bigInt({ min: 1n, max: 1n << 40n }), (increments, at, name, delta) => {
        const g = genesisHead(ch.channelId);
        const built = buildSegment({
          channelId: ch.channelId,
          prev: g,
          vouchers: vouchersFor(g, increments, 7n),
          secretKey: device.secretKey,
        });
        const vouchers = built.segment.vouchers.map((v) => ({ ...v }));
        const v = vouchers[at % vouchers.length]!;
        v[name] = v[name] + delta <= U64_MAX ? v[name] + delta : v[name] - delta;
        const result = verifySegment({ ...built.segment, vouchers }, g, ch.ctx);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(Object.hasOwn(REASONS, result.code)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('never throws on arbitrary segments, heads and channels', () => {
    const channel = fc.record({
      channelId: arb.bytes(32),
      deviceKey: arb.bytes(32),
      pricePerUnit: arb.u64,
      capacity: arb.u64,
    });
    fc.assert(
      fc.property(arb.segment, arb.head, channel, fc.boolean(), (s, prev, ctx, aligned) => {
        // Half the time line the segment up with the head and channel, to get past the early checks.
        const seg = aligned
          ? {
              ...s,
              channelId: ctx.channelId,
              firstSeq: prev.seq + 1n > U64_MAX ? s.firstSeq : prev.seq + 1n,
              prevHash: prev.hash,
            }
          : s;
        const result = verifySegment(seg, prev, ctx);
        if (!result.ok) expect(Object.hasOwn(REASONS, result.code)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
