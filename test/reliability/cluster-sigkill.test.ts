// The SIGKILL case of hub-sigkill.test.ts on a 3-hub cluster: three `tally-hub start --cluster`
// processes (lease 2 s, an epoch every 500 ms) on one throwaway PostgreSQL and one aedes broker,
// four real agents with SQLite outboxes streaming. A random member is SIGKILLed (never all at
// once); the survivors take its partitions once its leases lapse, and every unit the devices had
// signed when it died is acknowledged before it is restarted. At the end the PostgreSQL store holds
// exactly what the agents signed: nothing lost, nothing counted twice, no false equivocation, each
// voucher stored once; every epoch is whole (its bundle verifies offline) and the epochs add up
// to what was accepted. Kills: TALLY_CLUSTER_HUB_KILLS (default 3; docs/reliability.md).
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyBundle } from '../../protocol/index.js';
import { waitFor } from '../../support/test-hub.js';
import { AgentFixture, waitDrained } from '../agent/helpers/agent-fixture.js';
import { describePostgres } from '../hub/helpers/postgres.js';
import {
  processCluster,
  startClusterInfra,
  type ClusterDb,
  type ClusterInfra,
  type ProcessCluster,
} from '../cluster/helpers/cluster-env.js';
import { envInt, recorder } from './helpers/record.js';
import { seededRandom } from './helpers/random.js';
import { TEST_LEASE_MS } from './helpers/target.js';

const HUBS = 3;
const KILLS = envInt('TALLY_CLUSTER_HUB_KILLS', 3);
const rec = recorder('hub-sigkill-cluster', { TALLY_CLUSTER_HUB_KILLS: KILLS });

describePostgres('test/reliability/cluster-sigkill.test.ts', 'cluster members killed with SIGKILL', (bin) => {
  let infra: ClusterInfra | undefined;
  let cluster: ProcessCluster | undefined;
  const agents = Array.from({ length: 4 }, () => new AgentFixture());
  beforeAll(async () => {
    infra = await startClusterInfra(bin);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stopAll('SIGKILL');
    for (const a of agents) await a.cleanup();
    await infra?.close();
  });

  it(
    'loses nothing and counts nothing twice while random members are killed and restarted',
    { timeout: 180_000 + KILLS * 30_000 },
    async () => {
      const cdb: ClusterDb = await infra!.prepare('sigkill', HUBS);
      const c = processCluster(infra!, cdb, HUBS, {
        leaseMs: TEST_LEASE_MS,
        // Frequent epochs, so kills also land while an epoch is being closed.
        extraArgs: ['--settle-every', '500ms'],
      });
      cluster = c;
      const ids = Array.from({ length: HUBS }, (_, i) => `h${i}`);
      // The first member takes every partition and enrols the devices; two more join and the
      // partitions spread (their new owners load the devices from the database).
      await c.start(0);
      await c.enrol(
        agents.map((a) => ({ publicKey: a.deviceHex, unit: 'Wh', pricePerUnit: '2', capacity: String(10n ** 15n) })),
      );
      for (let i = 1; i < HUBS; i++) await c.start(i);
      await cdb.waitForSplit(ids);

      const hub = { url: infra!.broker.url, keyPair: cdb.identity.keyPair };
      const counters = agents.map(() => 0n);
      agents.forEach((a) => a.setCounter(0n));
      const running = agents.map((a) => a.start(hub, { batch: 8, batchMs: 20, ackTimeoutMs: 1000 }));
      await waitFor(() => running.every((r) => r.snapshot().channel !== undefined), 'grants', 60_000);
      const random = seededRandom(Number(process.env.TALLY_HUB_KILL_SEED ?? 1));
      const meter = setInterval(() => {
        agents.forEach((a, i) => {
          counters[i]! += BigInt(1 + Math.floor(random() * 5));
          a.setCounter(counters[i]!);
        });
      }, 25);

      const recoveries: number[] = [];
      const victims: string[] = [];
      let partitionsMoved = 0;
      try {
        for (let k = 0; k < KILLS; k++) {
          await new Promise((r) => setTimeout(r, 300 + random() * 1200));
          const v = Math.floor(random() * HUBS);
          victims.push(ids[v]!);
          const theirs = (await cdb.owners()).filter((r) => r.owner_hub === ids[v]).length;
          // What the devices have signed when the member dies must all be acknowledged by the
          // survivors, before it comes back.
          const signedAtKill = running.map((r) => r.snapshot().channel!.cumUnits);
          const killedAt = performance.now();
          await c.hubs[v]!.kill('SIGKILL');
          await waitFor(
            async () => !(await cdb.owners()).some((r) => r.owner_hub === ids[v]),
            `the survivors hold every partition of ${ids[v]} (kill ${k + 1})`,
            60_000,
          );
          partitionsMoved += theirs;
          await waitFor(
            () => running.every((r, i) => r.snapshot().ackedUnits >= signedAtKill[i]!),
            `receipts from the survivors after kill ${k + 1}`,
            60_000,
          );
          recoveries.push(Math.round(performance.now() - killedAt));
          await c.start(v);
        }
      } finally {
        clearInterval(meter);
      }
      // Drain: every unit metered is signed, sent and acknowledged.
      await waitDrained(running, counters);

      // A last epoch, then every epoch is checked offline, through a member's API.
      await c.api('POST', '/api/settlements');
      const { epochs } = await c.api<{ epochs: { epoch: string; totalDeltaAmount: string }[] }>(
        'GET',
        '/api/settlements',
      );
      let settledDelta = 0n;
      for (const e of epochs) {
        const bundle = await c.api<unknown>('GET', `/api/settlements/${e.epoch}/bundle`);
        const verdict = verifyBundle(bundle, { hubKey: cdb.identity.keyPair.publicKey });
        expect(verdict.ok, `epoch ${e.epoch}`).toBe(true);
        settledDelta += BigInt(e.totalDeltaAmount);
      }
      // The fleet's totals from the shared store (a member's /api/stats covers its own partitions).
      const totals = (
        await cdb.db.query<{ acceptedAmount: string; settledAmount: string }>(
          'SELECT sum(head_amount)::text AS "acceptedAmount", sum(settled_amount)::text AS "settledAmount" FROM channels',
        )
      ).rows[0]!;
      expect(settledDelta).toBe(BigInt(totals.acceptedAmount));
      expect(totals.settledAmount).toBe(totals.acceptedAmount);
      await c.stopAll('SIGTERM');

      // The store itself: each device's committed head is what it signed, each voucher stored once.
      let lost = 0n;
      let duplicated = 0n;
      let signedUnits = 0n;
      for (const [i, a] of agents.entries()) {
        const ch = (
          await cdb.db.query<{ channel_id: string; u: string; seq: string; amount: string; equivocated: boolean }>(
            `SELECT encode(channel_id, 'hex') AS channel_id, head_units::text AS u, head_seq::text AS seq, head_amount::text AS amount,
                    equivocated FROM channels WHERE device_key = $1`,
            [Buffer.from(a.deviceHex, 'hex')],
          )
        ).rows[0]!;
        const signed = running[i]!.snapshot().channel!;
        signedUnits += signed.cumUnits;
        const held = BigInt(ch.u);
        if (held < signed.cumUnits) lost += signed.cumUnits - held;
        else duplicated += held - signed.cumUnits;
        expect(BigInt(ch.seq)).toBe(signed.headSeq);
        expect(BigInt(ch.amount)).toBe(signed.cumAmount);
        expect(ch.equivocated).toBe(false);
        const spans = (
          await cdb.db.query<{ f: string; l: string }>(
            "SELECT new_from_seq::text AS f, last_seq::text AS l FROM segments WHERE channel_id = decode($1, 'hex') ORDER BY last_seq",
            [ch.channel_id],
          )
        ).rows;
        let next = 1n;
        for (const s of spans) {
          expect(BigInt(s.f)).toBe(next);
          next = BigInt(s.l) + 1n;
        }
        expect(next).toBe(signed.headSeq + 1n);
      }
      expect((await cdb.db.query('SELECT 1 FROM equivocations')).rowCount).toBe(0);
      const rejections = Object.fromEntries(
        (
          await cdb.db.query<{ reason: string; n: string }>(
            'SELECT reason, sum(events)::text AS n FROM rejection_counts GROUP BY reason',
          )
        ).rows.map((r) => [r.reason, BigInt(r.n)]),
      );
      expect(lost).toBe(0n);
      expect(duplicated).toBe(0n);
      rec.record({
        case: `${KILLS} random members of a 3-hub cluster SIGKILLed and restarted (ingest and settlement) while 4 agents stream`,
        expected:
          "the survivors take the dead member's partitions and acknowledge every unit signed before the kill; store heads = agent heads, each voucher stored once, no equivocation; every epoch whole and verifiable, deltas = accepted",
        observed: `kills of ${victims.join(', ')}; ${partitionsMoved} partitions taken over by survivors; ${signedUnits} units signed and held in PostgreSQL exactly; kill to receipts from the survivors ${Math.min(...recoveries)}-${Math.max(...recoveries)} ms (lease ${TEST_LEASE_MS} ms); DUPLICATE ${rejections.DUPLICATE ?? 0n}, other refusals ${
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
          inputs: KILLS,
        },
      });
    },
  );
});
