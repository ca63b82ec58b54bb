// SIGKILL of the hub process at random points while agents stream, repeated: some kills land
// between a segment's arrival and its commit, some between the commit and the receipt. The agents
// (real library, real SQLite outboxes) delete only on receipts, so after the last restart the hub
// must hold exactly what they signed: nothing lost, nothing counted twice, no false equivocation.
// The hub also closes an epoch every 50 ms, so kills land during settlement too: every epoch left
// behind must be whole (its bundle verifies offline) and the epochs must add up to what was accepted.
// Kills: TALLY_HUB_KILLS (default 6; docs/reliability.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../common/free-port.js';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../protocol/index.js';
import { loadIdentity, openStore } from '../../hub/store/datadir.js';
import { AgentFixture, waitDrained } from '../agent/helpers/agent-fixture.js';
import { waitFor } from '../../support/test-hub.js';
import { bareCore } from '../hub/helpers/bare-core.js';
import { tempDir } from '../hub/helpers/hub.js';
import { envInt, recorder } from './helpers/record.js';
import { seededRandom } from './helpers/random.js';

const KILLS = envInt('TALLY_HUB_KILLS', 6);
const rec = recorder('hub-sigkill', { TALLY_HUB_KILLS: KILLS });

function startChild(dataDir: string, listen: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/reliability/helpers/hub-child.ts', dataDir, listen, '15', '50'],
    {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hub child did not start')), 30_000);
    createInterface({ input: child.stdout! }).once('line', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`hub child exited with ${code}`)));
  });
}

const killed = (child: ChildProcess, signal: NodeJS.Signals) =>
  new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.once('exit', () => r());
    child.kill(signal);
  });

describe('hub killed with SIGKILL at random points', () => {
  const tmp = tempDir('tally-hub-kill-');
  const agents = Array.from({ length: 4 }, () => new AgentFixture());
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child) await killed(child, 'SIGKILL');
    for (const a of agents) await a.cleanup();
    tmp.cleanup();
  });

  it(
    'loses nothing and counts nothing twice across repeated kills',
    { timeout: 120_000 + KILLS * 15_000 },
    async () => {
      // Enrol on the stopped hub's database, as `tally-hub device add` does without a running hub.
      const setup = await bareCore(tmp.dir, { credentialWindowMs: 600_000 });
      await setup.core.enrol(
        agents.map((a) => ({ publicKey: a.deviceHex, unit: 'Wh', pricePerUnit: 2n, capacity: 10n ** 15n })),
      );
      await setup.close();
      const identity = loadIdentity(tmp.dir);
      const listen = `127.0.0.1:${await freePort()}`;
      child = await startChild(tmp.dir, listen);
      const hub = { url: `mqtt://${listen}`, keyPair: identity.keyPair };

      const counters = agents.map(() => 0n);
      agents.forEach((a) => a.setCounter(0n));
      const running = agents.map((a) => a.start(hub, { batch: 8, batchMs: 20, ackTimeoutMs: 1000 }));
      await waitFor(() => running.every((r) => r.snapshot().channel !== undefined), 'grants', 30_000);
      const random = seededRandom(Number(process.env.TALLY_HUB_KILL_SEED ?? 1));
      const meter = setInterval(() => {
        agents.forEach((a, i) => {
          counters[i]! += BigInt(1 + Math.floor(random() * 5));
          a.setCounter(counters[i]!);
        });
      }, 25);

      const recoveries: number[] = [];
      try {
        for (let k = 0; k < KILLS; k++) {
          await new Promise((r) => setTimeout(r, 300 + random() * 1200));
          // What the devices have signed when the hub dies must all be acknowledged after the restart.
          const signedAtKill = running.map((r) => r.snapshot().channel!.cumUnits);
          await killed(child, 'SIGKILL');
          await new Promise((r) => setTimeout(r, random() * 400));
          child = await startChild(tmp.dir, listen);
          const up = performance.now();
          await waitFor(
            () => running.every((r, i) => r.snapshot().ackedUnits >= signedAtKill[i]!),
            `receipts after restart ${k + 1}`,
            60_000,
          );
          recoveries.push(Math.round(performance.now() - up));
        }
      } finally {
        clearInterval(meter);
      }
      // Drain: every unit metered is signed, sent and acknowledged.
      await waitDrained(running, counters);
      await killed(child, 'SIGTERM');
      child = undefined;

      // A last epoch on the stopped hub's database, then every epoch is checked offline.
      const final = await bareCore(tmp.dir);
      await final.core.settle();
      const epochs = await final.core.listEpochs();
      let settledDelta = 0n;
      for (const e of epochs) {
        const verdict = verifyBundle(JSON.parse(JSON.stringify(await final.core.bundle(BigInt(e.epoch)))), {
          hubKey: identity.keyPair.publicKey,
        });
        expect(verdict.ok, `epoch ${e.epoch}`).toBe(true);
        settledDelta += BigInt(e.totalDeltaAmount);
      }
      const totals = await final.core.stats();
      await final.close();
      expect(settledDelta).toBe(BigInt(totals.acceptedAmount));
      expect(totals.settledAmount).toBe(totals.acceptedAmount);

      const store = openStore(tmp.dir);
      let lost = 0n;
      let duplicated = 0n;
      let signedUnits = 0n;
      let rejections: Record<string, bigint>;
      try {
        rejections = Object.fromEntries((await store.rejectionCounts()).map((c) => [c.reason, c.events]));
        const stored = await store.listChannels();
        agents.forEach((a, i) => {
          const ch = stored.find((c) => Buffer.from(c.deviceKey).toString('hex') === a.deviceHex)!;
          const signed = running[i]!.snapshot().channel!;
          signedUnits += signed.cumUnits;
          if (ch.head.cumUnits < signed.cumUnits) lost += signed.cumUnits - ch.head.cumUnits;
          else duplicated += ch.head.cumUnits - signed.cumUnits;
          expect(ch.head.seq).toBe(signed.headSeq);
          expect(ch.head.cumAmount).toBe(signed.cumAmount);
          expect(ch.equivocated).toBe(false);
        });
        expect(await store.listEquivocations()).toEqual([]);
      } finally {
        await store.close();
      }
      expect(lost).toBe(0n);
      expect(duplicated).toBe(0n);
      rec.record({
        case: `hub SIGKILLed ${KILLS} times at random points (ingest and settlement) while 4 agents stream`,
        expected:
          'after each restart every unit signed before the kill is acknowledged; hub heads = agent heads, no equivocation; every epoch whole and verifiable, deltas = accepted',
        observed: `${KILLS} kills, ${signedUnits} units signed and held by the hub exactly; recovery after restart ${Math.min(...recoveries)}-${Math.max(...recoveries)} ms; segments re-sent after a missing receipt (e.g. a kill between commit and receipt) acknowledged as DUPLICATE ${rejections.DUPLICATE ?? 0n}, other refusals ${
          Object.entries(rejections)
            .filter(([k]) => k !== 'DUPLICATE')
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || 'none'
        }; ${epochs.length} epochs closed across the kills, every bundle verified offline, deltas sum to the accepted amount ${totals.acceptedAmount}`,
        figures: {
          lost: `${lost}`,
          duplicated: `${duplicated}`,
          recoveryMs: Math.max(...recoveries),
          rejected: Number(Object.values(rejections).reduce((a, b) => a + b, 0n)),
        },
      });
    },
  );
});
