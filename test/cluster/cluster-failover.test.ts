// Failover with real agents: three `tally-hub start --cluster` processes on one PostgreSQL and one
// MQTT broker, agents streaming, and the hub owning the first agent's partition killed with
// SIGKILL. Its partitions move to the survivors after the lease, the devices go on, and at the end
// every device's committed head equals its meter: nothing lost, nothing counted twice, and at no
// moment did a device hold a receipt for more than the database had committed. The failover time
// (kill -> every partition of the dead hub owned again, kill -> the first receipt for a device of
// the dead hub) is printed, not asserted.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { partitionOf } from '../../protocol/index.js';
import type { HubProcess } from '../../simulator/hub-process.js';
import { waitFor } from '../../support/test-hub.js';
import { describePostgres } from '../hub/helpers/postgres.js';
import { AgentFixture } from '../agent/helpers/agent-fixture.js';
import { processCluster, startClusterInfra, type ClusterInfra } from './helpers/cluster-env.js';

const HUBS = 3;
const AGENTS = 6;

describePostgres('test/cluster/cluster-failover.test.ts', 'cluster failover with agents', (bin) => {
  let infra: ClusterInfra | undefined;
  const hubs: HubProcess[] = [];
  const agents = Array.from({ length: AGENTS }, () => new AgentFixture());
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    infra = await startClusterInfra(bin);
  }, 60_000);
  afterAll(async () => {
    for (const h of hubs) await h.kill('SIGKILL');
    for (const a of agents) await a.cleanup();
    for (const c of cleanups.reverse()) await c();
    await infra?.close();
  });

  it("moves a killed hub's partitions; devices go on; every head equals its meter", async () => {
    const cdb = await infra!.prepare('failover', HUBS);
    const { db, identity, owners } = cdb;
    const broker = infra!.broker;
    const cluster = processCluster(infra!, cdb, HUBS, { leaseMs: 3000 });
    const start = (i: number) => cluster.start(i);

    // The first hub owns everything; the devices are enrolled through it, then two more join and
    // the partitions spread (their new owners load the devices from the database).
    hubs.push(await start(0));
    await cluster.enrol(
      agents.map((a) => ({ publicKey: a.deviceHex, unit: 'Wh', pricePerUnit: '3', capacity: '1000000000' })),
    );
    hubs.push(await start(1), await start(2));
    await cdb.waitForSplit(['h0', 'h1', 'h2'], 80);

    const committed = async (hex: string) => {
      const r = await db.query<{ u: string; seq: string; amount: string; equivocated: boolean }>(
        `SELECT head_units::text AS u, head_seq::text AS seq, head_amount::text AS amount, equivocated
           FROM channels WHERE device_key = $1`,
        [Buffer.from(hex, 'hex')],
      );
      return r.rows[0]!;
    };
    // At no moment may a device hold a receipt for more than the database committed [P-5.2].
    let overAcked = 0;
    const checkReceipts = async () => {
      for (const a of agents) {
        const acked = a.agent?.snapshot().ackedUnits ?? 0n;
        if (acked > BigInt((await committed(a.deviceHex)).u)) overAcked++;
      }
    };

    let meter = 0n;
    for (const a of agents) a.setCounter(meter);
    for (const a of agents) a.start({ url: broker.url, keyPair: identity.keyPair }, { ackTimeoutMs: 2000 });
    await waitFor(() => agents.every((a) => a.agent!.snapshot().channel !== undefined), 'every GRANT', 60_000);
    const tick = setInterval(() => {
      meter += 5n;
      for (const a of agents) a.setCounter(meter);
    }, 100);
    cleanups.push(() => clearInterval(tick));
    await waitFor(() => agents.every((a) => a.agent!.snapshot().ackedUnits >= 50n), 'every device receipted', 60_000);
    await checkReceipts();

    // Kill the hub that owns the first device's partition.
    const p0 = partitionOf(agents[0]!.deviceHex);
    const victimId = (await owners()).find((r) => r.partition === p0)!.owner_hub!;
    const victim = hubs[Number(victimId.slice(1))]!;
    const theirs = (await owners()).filter((r) => r.owner_hub === victimId).map((r) => r.partition);
    const onVictim = agents.filter((a) => theirs.includes(partitionOf(a.deviceHex)));
    const ackedAtKill = onVictim.map((a) => a.agent!.snapshot().ackedUnits);
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    let movedAt = 0;
    let receiptAt = 0;
    await waitFor(
      async () => {
        await checkReceipts();
        if (!receiptAt && onVictim.some((a, i) => a.agent!.snapshot().ackedUnits > ackedAtKill[i]!))
          receiptAt = Date.now();
        if (!movedAt && !(await owners()).some((r) => r.owner_hub === victimId)) movedAt = Date.now();
        return movedAt > 0 && receiptAt > 0;
      },
      "the dead hub's partitions owned again and its devices receipted",
      60_000,
    );
    console.log(
      `cluster failover: ${theirs.length} partitions of ${victimId} (${onVictim.length} of ${AGENTS} devices) owned again ` +
        `${movedAt - killedAt} ms after SIGKILL; first receipt for one of its devices after ${receiptAt - killedAt} ms (lease 3 s)`,
    );

    // Streaming goes on a while, then the meters stop and everything drains.
    const target = meter + 200n;
    await waitFor(() => meter >= target, 'more streaming after the failover', 60_000);
    clearInterval(tick);
    const final = meter;
    await waitFor(
      () => agents.every((a) => a.agent!.snapshot().ackedUnits === final),
      `every device receipted up to ${final}`,
      90_000,
    );
    await checkReceipts();
    expect(overAcked).toBe(0);
    for (const a of agents) {
      const row = await committed(a.deviceHex);
      expect(row).toEqual({ u: String(final), seq: String(final), amount: String(final * 3n), equivocated: false });
    }
    // Each voucher stored once: per channel the segments' new spans tile 1..final.
    const tiles = await db.query<{ n: string; total: string }>(
      `SELECT count(DISTINCT channel_id)::text AS n, sum(last_seq - new_from_seq + 1)::text AS total FROM segments`,
    );
    expect(tiles.rows[0]).toEqual({ n: String(AGENTS), total: String(final * BigInt(AGENTS)) });
  }, 300_000);
});
