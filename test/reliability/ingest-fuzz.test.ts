// fast-check over the hub's ingest path: the real pipeline, group commit and SQLite store, with
// signature verdicts released by hand so that arrival and verdict interleave in every order. No
// input may crash the hub (HUB_INTERNAL) or move a balance off the device's genuine chain.
// Runs: TALLY_FUZZ_RUNS (default 2000 per property; docs/reliability.md).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bytesEqual,
  decodeReceipt,
  encodeSegment,
  genesisHead,
  SEGMENT_HEADER_SIZE,
  SEGMENT_VOUCHER_SIZE,
  toHex,
  topics,
  type BuiltSegment,
} from '../../protocol/index.js';
import { bareCore, GatedPool, type BareCore } from '../hub/helpers/bare-core.js';
import { tempDir } from '../hub/helpers/hub.js';
import { BareDevice, commitTurn, rejectionCounts } from '../hub/helpers/bare-device.js';
import { envInt, recorder } from './helpers/record.js';

const RUNS = envInt('TALLY_FUZZ_RUNS', 2000);
const SEED = process.env.TALLY_FUZZ_SEED ? Number(process.env.TALLY_FUZZ_SEED) : undefined;
const rec = recorder('ingest-fuzz', { TALLY_FUZZ_RUNS: RUNS });
// About 3 ms a run on a loaded 2-core machine; the time limit grows with the runs asked for.

/** One byte-level change to an encoded segment. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), pos: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  fc.record({
    kind: fc.constant('splice' as const),
    pos: fc.nat(),
    junk: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(b: Uint8Array, m: Mutation): Uint8Array {
  const out = new Uint8Array(b);
  switch (m.kind) {
    case 'flip':
      out[m.pos % out.length]! ^= 1 << m.bit;
      return out;
    case 'set':
      if (out[m.pos % out.length] === m.value) out[m.pos % out.length] = m.value ^ 0x80;
      else out[m.pos % out.length] = m.value;
      return out;
    case 'truncate':
      return out.subarray(0, m.pos % out.length);
    case 'append':
      return new Uint8Array([...out, ...m.extra]);
    case 'splice': {
      const p = m.pos % out.length;
      return new Uint8Array([...out.subarray(0, p), ...m.junk, ...out.subarray(p + 1)]);
    }
  }
}

/** What the fleet of a run does: send genuine segment i, a mutated copy of it, or let verdicts in. */
const command = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('genuine' as const), i: fc.nat(5) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('forged' as const), i: fc.nat(5), m: mutation }) },
  // A plausible forgery: one byte of a voucher's device time changed, so every rule still holds and
  // only the signature fails; it is chained before its verdict, like a real attack would be.
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('plausible' as const),
      i: fc.nat(5),
      voucher: fc.nat(3),
      byte: fc.nat(7),
      xor: fc.integer({ min: 1, max: 255 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('verdicts' as const), n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('commit' as const) }) },
);

describe('fuzzing the ingest path', () => {
  let tmp: ReturnType<typeof tempDir>;
  let pool: GatedPool;
  let hub: BareCore;

  beforeAll(async () => {
    tmp = tempDir();
    pool = new GatedPool();
    // Large reorder window: gaps are given up only by the sweep timer, which this test does not run.
    hub = await bareCore(tmp.dir, { sqliteSynchronous: 'NORMAL' }, pool);
  });
  afterAll(async () => {
    await hub.close();
    tmp.cleanup();
  });

  it(
    'keeps every committed head on the genuine chain, whatever forged, repeated or reordered bytes arrive',
    { timeout: 60_000 + RUNS * 30 },
    async () => {
      let messages = 0;
      let maxSeq = 0n;
      let resyncs = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(command, { minLength: 1, maxLength: 24 }),
          fc.integer({ min: 1, max: 4 }),
          async (commands, per) => {
            const d = await BareDevice.enrol(hub, { price: 2n });
            const genuine: BuiltSegment[] = Array.from({ length: 6 }, () => d.build(per));
            const bytes = genuine.map((g) => encodeSegment(g.segment));
            for (const c of commands) {
              if (c.op === 'genuine') d.send(bytes[c.i]!);
              else if (c.op === 'forged') d.send(mutate(bytes[c.i]!, c.m));
              else if (c.op === 'plausible') {
                const forged = new Uint8Array(bytes[c.i]!);
                forged[SEGMENT_HEADER_SIZE + SEGMENT_VOUCHER_SIZE * (c.voucher % per) + 16 + c.byte]! ^= c.xor;
                d.send(forged);
              } else if (c.op === 'verdicts') await pool.release(c.n);
              else await commitTurn();
              if (c.op === 'genuine' || c.op === 'forged' || c.op === 'plausible') messages++;
            }
            while (pool.waiting > 0) await pool.release();
            await commitTurn();
            const head = await d.durable();
            if (head.seq > maxSeq) maxSeq = head.seq;
            if (head.seq > 0n) {
              // The committed head is exactly the genuine voucher at that seq: hash, units, amount.
              const seg = genuine[Number((head.seq - 1n) / BigInt(per))]!;
              const j = Number((head.seq - 1n) % BigInt(per));
              expect(bytesEqual(head.hash, seg.hashes[j]!)).toBe(true);
              expect(head.cumUnits).toBe(seg.segment.vouchers[j]!.cumUnits);
              expect(head.cumAmount).toBe(seg.segment.vouchers[j]!.cumAmount);
            }
            // Everything the hub signed and sent this device names a head of the genuine chain: a
            // RESYNC or a receipt carrying a forged head would be a hub-signed lie.
            const genuineAt = (seq: bigint) =>
              seq === 0n
                ? genesisHead(d.channelId).hash
                : genuine[Number((seq - 1n) / BigInt(per))]!.hashes[Number((seq - 1n) % BigInt(per))]!;
            for (const c of hub.controls) {
              if (c.deviceHex !== d.hex || c.control.kind !== 'resync') continue;
              expect(
                bytesEqual(c.control.head.hash, genuineAt(c.control.head.seq)),
                `RESYNC at ${c.control.head.seq}`,
              ).toBe(true);
              resyncs++;
            }
            for (const r of hub.receipts) {
              if (r.deviceHex !== d.hex) continue;
              const receipt = decodeReceipt(r.bytes);
              expect(receipt.ok && bytesEqual(receipt.value.headHash, genuineAt(receipt.value.seq))).toBe(true);
            }
            const ch = (await hub.core.ledger.getChannel(d.channelId))!;
            // Only the genuine device signed anything: a forgery can never be taken for equivocation.
            expect(ch.equivocated).toBe(false);
          },
        ),
        { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );
      const counts = await rejectionCounts(hub);
      expect(counts.HUB_INTERNAL).toBeUndefined();
      expect(counts.EQUIVOCATION).toBeUndefined();
      rec.record({
        case: 'fuzz: forged, repeated and reordered segments with interleaved signature verdicts',
        expected:
          'no HUB_INTERNAL, no EQUIVOCATION, every committed head, receipt and RESYNC head equal to the genuine voucher at its seq',
        observed: `${RUNS} runs, ${messages} messages, ${resyncs} RESYNCs checked; highest committed seq ${maxSeq}; ${Object.entries(
          counts,
        )
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
        figures: { inputs: messages, rejected: Number(Object.values(counts).reduce((a, b) => a + b, 0n)) },
      });
    },
  );

  it(
    'survives arbitrary bytes on any topic without a crash or a balance change',
    { timeout: 60_000 + RUNS * 5 },
    async () => {
      const d = await BareDevice.enrol(hub, { price: 2n });
      d.send(d.build(3));
      while (pool.waiting > 0) await pool.release();
      await commitTurn();
      const before = await hub.core.stats();
      const topic = fc.oneof(
        fc.constant(topics.segment(d.hex)),
        fc.constant(topics.status(d.hex)),
        fc.constant(topics.segment(toHex(new Uint8Array(32).fill(7)))),
        fc.constant(`tally/v1/d/${d.hex}/up/other`),
        fc.string({ maxLength: 80 }),
      );
      let messages = 0;
      fc.assert(
        fc.property(topic, fc.uint8Array({ maxLength: 600 }), (t, payload) => {
          messages++;
          hub.core.pipeline.onMessage(t, payload);
        }),
        { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );
      while (pool.waiting > 0) await pool.release();
      await commitTurn();
      const after = await hub.core.stats();
      const counts = await rejectionCounts(hub);
      expect(counts.HUB_INTERNAL).toBeUndefined();
      expect(after.acceptedUnits).toBe(before.acceptedUnits);
      expect(after.acceptedAmount).toBe(before.acceptedAmount);
      rec.record({
        case: 'fuzz: arbitrary bytes on device, unknown-device and arbitrary topics',
        expected: 'no HUB_INTERNAL; accepted units and amount unchanged',
        observed: `${messages} messages; accepted units ${before.acceptedUnits} -> ${after.acceptedUnits}, amount ${before.acceptedAmount} -> ${after.acceptedAmount}`,
        figures: { inputs: messages, rejected: Number(BigInt(after.rejectedEvents) - BigInt(before.rejectedEvents)) },
      });
    },
  );
});
