// A small fleet of real agents (the Agent library, one SQLite outbox file each, file meters the
// test advances) against a hub, and the conservation check every delivery case ends with: what
// the agents signed equals what the hub committed, nothing lost, nothing counted twice.
import { performance } from 'node:perf_hooks';
import type { Agent, AgentOptions } from '../../../agent/agent.js';
import type { KeyPair } from '../../../protocol/index.js';
import type { HubLedger } from '../../../hub/store/types.js';
import { AgentFixture } from '../../agent/helpers/agent-fixture.js';
import { waitFor } from '../../../support/test-hub.js';
import { seededRandom } from './random.js';

export interface Fleet {
  fixtures: AgentFixture[];
  agents: Agent[];
  counters: bigint[];
  /** Adds 1-5 units to every meter every `periodMs` until stopMetering(). */
  startMetering(periodMs?: number): void;
  stopMetering(): void;
  /** Waits until every agent has signed all it metered and holds a receipt for all of it. */
  drained(timeoutMs?: number): Promise<number>;
  /** Waits until every agent holds a receipt covering what it had signed when this was called. */
  caughtUp(timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

export interface Conservation {
  signedUnits: bigint;
  lost: bigint;
  duplicated: bigint;
  /** Channels whose committed head differs from the agent's in seq or amount. */
  mismatchedHeads: number;
  equivocations: number;
}

export async function startFleet(
  n: number,
  enrol: (hexKeys: string[]) => unknown,
  hub: { url: string; keyPair: KeyPair },
  extra: (i: number) => Partial<AgentOptions> = () => ({}),
  seed = 1,
): Promise<Fleet> {
  const fixtures = Array.from({ length: n }, () => new AgentFixture());
  await enrol(fixtures.map((f) => f.deviceHex));
  const counters = fixtures.map(() => 0n);
  fixtures.forEach((f) => f.setCounter(0n));
  const agents = fixtures.map((f, i) => f.start(hub, { batch: 8, batchMs: 20, ackTimeoutMs: 1_000, ...extra(i) }));
  await waitFor(() => agents.every((a) => a.snapshot().channel !== undefined), 'grants for the fleet', 30_000);
  const random = seededRandom(seed);
  let timer: NodeJS.Timeout | undefined;
  const since = () => performance.now();
  return {
    fixtures,
    agents,
    counters,
    startMetering(periodMs = 25) {
      timer = setInterval(() => {
        fixtures.forEach((f, i) => {
          counters[i]! += BigInt(1 + Math.floor(random() * 5));
          f.setCounter(counters[i]!);
        });
      }, periodMs);
    },
    stopMetering() {
      clearInterval(timer);
    },
    async drained(timeoutMs = 60_000) {
      const start = since();
      await waitFor(
        () =>
          agents.every((a, i) => {
            const s = a.snapshot();
            return s.channel!.cumUnits === counters[i] && s.ackedUnits === counters[i] && s.outboxDepth === 0;
          }),
        'the fleet drained',
        timeoutMs,
      );
      return Math.round(since() - start);
    },
    async caughtUp(timeoutMs = 60_000) {
      const start = since();
      const signed = agents.map((a) => a.snapshot().channel!.cumUnits);
      await waitFor(
        () => agents.every((a, i) => a.snapshot().ackedUnits >= signed[i]!),
        'receipts for what was signed',
        timeoutMs,
      );
      return Math.round(since() - start);
    },
    async close() {
      clearInterval(timer);
      for (const f of fixtures) await f.cleanup();
    },
  };
}

/** Compares each agent's signed head with the hub's committed head of its channel. */
export async function conservation(fleet: Fleet, store: HubLedger): Promise<Conservation> {
  let signedUnits = 0n;
  let lost = 0n;
  let duplicated = 0n;
  let mismatchedHeads = 0;
  const channels = new Map((await store.listChannels()).map((c) => [Buffer.from(c.deviceKey).toString('hex'), c]));
  fleet.agents.forEach((a, i) => {
    const signed = a.snapshot().channel!;
    const held = channels.get(fleet.fixtures[i]!.deviceHex)!.head;
    signedUnits += signed.cumUnits;
    if (held.cumUnits < signed.cumUnits) lost += signed.cumUnits - held.cumUnits;
    if (held.cumUnits > signed.cumUnits) duplicated += held.cumUnits - signed.cumUnits;
    // Same seq and amount too: one voucher per unit, no seq reused, no amount drift.
    if (held.seq !== signed.headSeq || held.cumAmount !== signed.cumAmount) mismatchedHeads++;
  });
  return { signedUnits, lost, duplicated, mismatchedHeads, equivocations: (await store.listEquivocations()).length };
}
