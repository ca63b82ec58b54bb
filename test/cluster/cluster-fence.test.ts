// Cluster mode of the hub on a real PostgreSQL and a real MQTT broker, with a real agent: two hubs
// that both believe they own a device. Hub A holds the device's partition; its lease is taken in
// the database behind its back (what a paused process finds when it wakes) while A still believes
// it holds it. A keeps taking the device's uplinks, but the fence inside its commit transaction
// refuses every commit: nothing of it is written and the device gets no receipt for it. Hub B,
// which now holds the lease, commits the same vouchers once: the ledger counts them exactly once.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { partitionOf } from '../../protocol/index.js';
import type { HubHandle } from '../../hub/server.js';
import { waitFor } from '../../support/test-hub.js';
import { describePostgres, testPool } from '../hub/helpers/postgres.js';
import { testHub } from '../hub/helpers/hub.js';
import { AgentFixture } from '../agent/helpers/agent-fixture.js';
import { startClusterInfra, type ClusterInfra } from './helpers/cluster-env.js';

describePostgres('test/cluster/cluster-fence.test.ts', 'cluster mode: the fence in the commit', (bin) => {
  let infra: ClusterInfra | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    infra = await startClusterInfra(bin);
  }, 60_000);
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await infra?.close();
  });

  it("refuses a stale owner's commit, and the new owner counts each voucher once", async () => {
    const { url, dirs } = await infra!.prepare('fence', 2);
    const broker = infra!.broker;
    const start = (dir: string, id: string) =>
      testHub(dir, {
        brokerUrl: broker.url,
        store: url,
        clusterHubId: id,
        // Long enough that A's own deadline never passes during the test: only the fence stops it.
        leaseMs: 120_000,
      });
    const a: HubHandle = await start(dirs[0]!, 'a');
    const commitFailures = async () => (await a.metrics.commitFailures.get()).values[0]?.value ?? 0;
    cleanups.push(() => a.close());
    // Alone, A takes every partition.
    await waitFor(() => a.cluster!.leases.owned().size === 256, 'hub A owns every partition', 60_000);

    const dev = new AgentFixture();
    cleanups.push(() => dev.cleanup());
    const p = partitionOf(dev.deviceHex);
    await a.core.enrol([{ publicKey: dev.deviceHex, unit: 'Wh', pricePerUnit: 2n, capacity: 1_000_000n }]);
    dev.setCounter(0n);
    const agent = dev.start({ url: broker.url, keyPair: a.hubKey });
    cleanups.push(() => agent.stop());
    await waitFor(() => agent.snapshot().channel !== undefined, 'GRANT from hub A', 30_000);
    dev.setCounter(100n);
    await waitFor(() => agent.snapshot().ackedUnits === 100n, '100 units receipted by A', 30_000);

    const db = testPool(url, 1);
    cleanups.push(() => db.end());
    const committedUnits = async () =>
      BigInt(
        (
          await db.query<{ u: string }>('SELECT head_units::text AS u FROM channels WHERE device_key = $1', [
            Buffer.from(dev.deviceHex, 'hex'),
          ])
        ).rows[0]!.u,
      );
    expect(await committedUnits()).toBe(100n);

    // A stops renewing (a paused process), and the lease of the device's partition moves to hub B
    // in the database: a takeover raises the token, exactly as B's own take would.
    a.cluster!.leases.halt();
    await db.query(
      "UPDATE partition_leases SET owner_hub = 'b', token = token + 1, expires_at = now() + interval '120 seconds' WHERE partition = $1",
      [p],
    );
    expect(a.cluster!.leases.holds(p)).toBe(true); // A still believes it owns the device

    const failedBefore = await commitFailures();
    dev.setCounter(250n);
    await waitFor(async () => (await commitFailures()) > failedBefore, "A's commit refused by the fence");
    // Nothing of A's refused commit reached the ledger or the device.
    expect(await committedUnits()).toBe(100n);
    expect(agent.snapshot().ackedUnits).toBe(100n);

    // B joins and takes the partition the database gives it; the device's re-sends reach both
    // hubs (A's link still listens), and only B's commits pass the fence.
    const b = await start(dirs[1]!, 'b');
    cleanups.push(() => b.close());
    await waitFor(() => b.cluster!.leases.holds(p), "hub B holds the device's partition", 60_000);
    await waitFor(() => agent.snapshot().ackedUnits === 250n, '250 units receipted', 60_000);
    expect(await committedUnits()).toBe(250n);
    const ch = (
      await db.query<{ seq: string; amount: string; equivocated: boolean }>(
        'SELECT head_seq::text AS seq, head_amount::text AS amount, equivocated FROM channels WHERE device_key = $1',
        [Buffer.from(dev.deviceHex, 'hex')],
      )
    ).rows[0]!;
    expect(ch).toEqual({ seq: '250', amount: '500', equivocated: false });
    // Every segment stored once: their spans tile 1..250 without overlap.
    const spans = (
      await db.query<{ f: string; l: string }>(
        `SELECT new_from_seq::text AS f, last_seq::text AS l FROM segments s JOIN channels c USING (channel_id)
          WHERE c.device_key = $1 ORDER BY last_seq`,
        [Buffer.from(dev.deviceHex, 'hex')],
      )
    ).rows;
    let next = 1n;
    for (const s of spans) {
      expect(BigInt(s.f)).toBe(next);
      next = BigInt(s.l) + 1n;
    }
    expect(next).toBe(251n);
  }, 180_000);
});
