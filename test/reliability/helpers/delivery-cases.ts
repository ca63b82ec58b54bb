// The delivery cases, run against any target (helpers/target.ts): a broker restart mid-stream,
// each segment delivered 2-5 times with new packet ids, shuffled windows, a segment lost for good
// (the gap never fills; RESYNC repairs it), and the whole fleet reconnecting at once with
// backlogs, between real agents (SQLite outboxes) and the target's hubs. Every case ends in exact
// conservation.
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeSegment, segmentHeadSeq } from '../../../protocol/index.js';
import { waitFor } from '../../../support/test-hub.js';
import { conservation, startFleet, type Fleet } from './fleet.js';
import { seededRandom } from './random.js';
import type { recorder } from './record.js';
import type { DeliveryTarget, OpenTarget } from './target.js';

/** How the reconnect storm runs on a target: hub options of its own and a longer budget. */
export interface StormOptions {
  hubOptions?: Parameters<OpenTarget>[0];
  /** The whole case, and the wait for the fleet to catch up within it. Default 60 s each. */
  timeoutMs?: number;
}

/** Registers the delivery cases in a describe block named `title`, each on a fresh target. */
export function deliveryCases(
  title: string,
  open: () => OpenTarget,
  rec: ReturnType<typeof recorder>,
  options: { reconnectStorm?: StormOptions } = {},
): void {
  describe(title, () => {
    const cleanups: (() => Promise<void> | void)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function hubAndFleet(
      n: number,
      hubOptions: Parameters<OpenTarget>[0] = {},
      extra: Parameters<typeof startFleet>[3] = () => ({}),
    ) {
      const hub = await open()(hubOptions);
      cleanups.push(() => hub.close());
      const fleet = await startFleet(n, (keys) => hub.enrol(keys), hub.connect, extra);
      cleanups.push(() => fleet.close());
      return { hub, fleet };
    }

    async function settle(hub: DeliveryTarget, fleet: Fleet) {
      await hub.flush();
      const c = await conservation(fleet, hub.ledger());
      const rejected = Object.fromEntries((await hub.ledger().rejectionCounts()).map((r) => [r.reason, r.events]));
      expect(c.lost).toBe(0n);
      expect(c.duplicated).toBe(0n);
      expect(c.mismatchedHeads).toBe(0);
      expect(c.equivocations).toBe(0);
      expect(c.signedUnits).toBe(fleet.counters.reduce((a, b) => a + b, 0n));
      return {
        c,
        rejected,
        text:
          Object.entries(rejected)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || 'none',
      };
    }

    it('loses nothing when the broker restarts mid-stream', async () => {
      const { hub, fleet } = await hubAndFleet(4);
      fleet.startMetering();
      const recoveries: number[] = [];
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 400));
        await hub.restartBroker();
        recoveries.push(await fleet.caughtUp());
      }
      fleet.stopMetering();
      await fleet.drained();
      const { c, text } = await settle(hub, fleet);
      rec.record({
        case: 'broker restart mid-stream (3 restarts, 4 agents)',
        expected: 'agents reconnect and re-send what has no receipt; hub = signed, nothing lost or doubled',
        observed: `${c.signedUnits} units signed and committed exactly; rejected: ${text}`,
        figures: { lost: `${c.lost}`, duplicated: `${c.duplicated}`, recoveryMs: Math.max(...recoveries) },
      });
    });

    it('counts a segment delivered 2-5 times with new packet ids once', async () => {
      const random = seededRandom(5);
      let extraCopies = 0;
      const { hub, fleet } = await hubAndFleet(3, {}, () => ({
        interceptSegment: async (payload, publish) => {
          const copies = 2 + Math.floor(random() * 4);
          extraCopies += copies - 1;
          // Each publish is a new MQTT packet with its own packet id: the broker cannot dedupe them.
          for (let k = 0; k < copies; k++) await publish(payload);
        },
      }));
      fleet.startMetering();
      await new Promise((r) => setTimeout(r, 1500));
      fleet.stopMetering();
      await fleet.drained();
      // The broker acknowledges a copy before it forwards it: the last copies may still be on their
      // way to the hub when the agents hold their last receipts.
      const duplicates = async () => {
        await hub.flush();
        return (await hub.ledger().rejectionCounts()).find((r) => r.reason === 'DUPLICATE')?.events ?? 0n;
      };
      await waitFor(
        async () => (await duplicates()) >= BigInt(extraCopies),
        'every extra copy acknowledged as a duplicate',
        10_000,
      );
      const { c, rejected, text } = await settle(hub, fleet);
      expect(rejected.DUPLICATE ?? 0n).toBeGreaterThanOrEqual(BigInt(extraCopies));
      rec.record({
        case: 'the same segment delivered 2-5 times with new packet ids',
        expected: 'every extra copy acknowledged as DUPLICATE, counted once',
        observed: `${extraCopies} extra copies sent, DUPLICATE ${rejected.DUPLICATE ?? 0n}; ${c.signedUnits} units committed exactly; rejected: ${text}`,
        figures: {
          lost: `${c.lost}`,
          duplicated: `${c.duplicated}`,
          rejected: Number(rejected.DUPLICATE ?? 0n),
          inputs: extraCopies,
        },
      });
    });

    it('takes shuffled windows in order through the reorder buffer', async () => {
      const random = seededRandom(9);
      let shuffledWindows = 0;
      const { hub, fleet } = await hubAndFleet(3, {}, () => {
        // Gathers up to 4 segments (or what came within 30 ms) and publishes them in a random order.
        let held: { payload: Uint8Array; publish: (p: Uint8Array) => Promise<void>; done: () => void }[] = [];
        let timer: NodeJS.Timeout | undefined;
        const release = () => {
          clearTimeout(timer);
          timer = undefined;
          const batch = held;
          held = [];
          for (let i = batch.length - 1; i > 0; i--) {
            const j = Math.floor(random() * (i + 1));
            [batch[i], batch[j]] = [batch[j]!, batch[i]!];
          }
          if (batch.length > 1) shuffledWindows++;
          for (const h of batch) void h.publish(h.payload).then(h.done, h.done);
        };
        return {
          window: 8,
          interceptSegment: (payload, publish) =>
            new Promise<void>((done) => {
              held.push({ payload, publish, done });
              if (held.length >= 4) release();
              else timer ??= setTimeout(release, 30);
            }),
        };
      });
      fleet.startMetering(10);
      await new Promise((r) => setTimeout(r, 1500));
      fleet.stopMetering();
      await fleet.drained();
      const { c, rejected, text } = await settle(hub, fleet);
      rec.record({
        case: 'shuffled windows (up to 4 segments per window)',
        expected: 'out-of-order segments wait in the reorder buffer and are taken in order; nothing lost or doubled',
        observed: `${shuffledWindows} windows shuffled; ${c.signedUnits} units committed exactly; rejected: ${text}`,
        figures: {
          lost: `${c.lost}`,
          duplicated: `${c.duplicated}`,
          rejected: Number(Object.values(rejected).reduce((a, b) => a + b, 0n)),
          inputs: shuffledWindows,
        },
      });
    });

    it('repairs a gap that never fills with a RESYNC', async () => {
      let dropped = 0;
      const drops: { at: number; lastSeq: bigint; repairedAfterMs?: number }[] = [];
      const { hub, fleet } = await hubAndFleet(2, { reorderWindowMs: 300 }, (i) => {
        let n = 0;
        return {
          // The 5th segment of each agent vanishes on the wire (a broker losing it); the agent's copy
          // stays in its outbox.
          interceptSegment: async (payload, publish) => {
            if (++n === 5) {
              dropped++;
              const s = decodeSegment(payload);
              if (s.ok) drops[i] = { at: performance.now(), lastSeq: segmentHeadSeq(s.value) };
              return;
            }
            await publish(payload);
          },
        };
      });
      // Recovery: from the loss on the wire to the receipt that covers the lost segment.
      fleet.agents.forEach((a, i) =>
        a.on('receipt', (seq) => {
          const d = drops[i];
          if (d && d.repairedAfterMs === undefined && seq >= d.lastSeq)
            d.repairedAfterMs = Math.round(performance.now() - d.at);
        }),
      );
      fleet.startMetering();
      await new Promise((r) => setTimeout(r, 1500));
      fleet.stopMetering();
      await fleet.drained();
      const recoveryMs = Math.max(...drops.map((d) => d.repairedAfterMs ?? Infinity));
      const { c, rejected, text } = await settle(hub, fleet);
      expect(dropped).toBe(2);
      expect(Number.isFinite(recoveryMs)).toBe(true);
      rec.record({
        case: 'a gap that never fills, repaired by RESYNC',
        expected:
          'segments after the gap wait, the window expires, RESYNC, the agent re-sends from the hub head; nothing lost or doubled',
        observed: `${dropped} segments dropped on the wire; ${c.signedUnits} units committed exactly; rejected: ${text}`,
        figures: {
          lost: `${c.lost}`,
          duplicated: `${c.duplicated}`,
          rejected: Number(Object.values(rejected).reduce((a, b) => a + b, 0n)),
          recoveryMs,
        },
      });
    });

    const storm = options.reconnectStorm ?? {};
    it(
      'survives a reconnect storm of the whole fleet with backlogs',
      async () => {
        const devices = 40;
        const { hub, fleet } = await hubAndFleet(devices, storm.hubOptions ?? {}, () => ({
          reconnectMinMs: 50,
          reconnectMaxMs: 500,
        }));
        fleet.startMetering(50);
        await new Promise((r) => setTimeout(r, 500));
        // The hub and its broker go away; every agent keeps metering into its outbox.
        await hub.away();
        await new Promise((r) => setTimeout(r, 2000));
        const backlog = fleet.agents.reduce((a, x) => a + x.snapshot().outboxDepth, 0);
        await hub.back();
        const recoveryMs = await fleet.caughtUp(storm.timeoutMs);
        fleet.stopMetering();
        await fleet.drained();
        const { c, text } = await settle(hub, fleet);
        expect(backlog).toBeGreaterThan(devices);
        rec.record({
          case: `reconnect storm: ${devices} agents reconnect at once with backlogs`,
          expected: 'every backlog drained, nothing lost or doubled',
          observed: `${backlog} vouchers in outboxes when the hub came back; ${c.signedUnits} units committed exactly; rejected: ${text}`,
          figures: { lost: `${c.lost}`, duplicated: `${c.duplicated}`, recoveryMs, inputs: backlog },
        });
      },
      storm.timeoutMs,
    );
  });
}
