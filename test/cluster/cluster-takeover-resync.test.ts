// A hub that takes over a partition asks its devices to re-send [P-6.7]. The agents here re-send
// on their own only after 10 minutes (acknowledgement timer) and keep at most 4 segments waiting
// for a receipt: when their hub is SIGKILLed with a full window, they have nothing new to send that
// the new owner could notice as a gap. The new owner's RESYNC is what gets them going again: the
// receipts resume long before any agent's timer, every head ends equal to its meter.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { partitionOf } from '../../protocol/index.js';
import type { HubProcess } from '../../simulator/hub-process.js';
import { waitFor } from '../../support/test-hub.js';
import { describePostgres } from '../hub/helpers/postgres.js';
import { AgentFixture } from '../agent/helpers/agent-fixture.js';
import { processCluster, startClusterInfra, type ClusterInfra } from './helpers/cluster-env.js';

const AGENTS = 4;
const ACK_TIMEOUT_MS = 600_000;

describePostgres('test/cluster/cluster-takeover-resync.test.ts', 'partition takeover', (bin) => {
  let infra: ClusterInfra | undefined;
  const hubs: HubProcess[] = [];
  const agents = Array.from({ length: AGENTS }, () => new AgentFixture());
  let tick: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    infra = await startClusterInfra(bin);
  }, 60_000);
  afterAll(async () => {
    clearInterval(tick);
    for (const h of hubs) await h.kill('SIGKILL');
    for (const a of agents) await a.cleanup();
    await infra?.close();
  });

  it("sends RESYNC to the dead hub's devices: they re-send before their own timer", async () => {
    const cdb = await infra!.prepare('takeover', 2);
    const cluster = processCluster(infra!, cdb, 2, { leaseMs: 2000 });
    hubs.push(await cluster.start(0));
    await cluster.enrol(
      agents.map((a) => ({ publicKey: a.deviceHex, unit: 'Wh', pricePerUnit: '3', capacity: '1000000000' })),
    );
    hubs.push(await cluster.start(1));
    await cdb.waitForSplit(['h0', 'h1'], 100);

    let meter = 0n;
    for (const a of agents) a.setCounter(meter);
    for (const a of agents)
      a.start({ url: infra!.broker.url, keyPair: cdb.identity.keyPair }, { ackTimeoutMs: ACK_TIMEOUT_MS });
    await waitFor(() => agents.every((a) => a.agent!.snapshot().channel !== undefined), 'every GRANT', 60_000);
    tick = setInterval(() => {
      meter += 5n;
      for (const a of agents) a.setCounter(meter);
    }, 50);
    await waitFor(() => agents.every((a) => a.agent!.snapshot().ackedUnits >= 50n), 'every device receipted', 60_000);

    // SIGKILL the owner of the first device's partition while its devices stream.
    const owners = await cdb.owners();
    const victimId = owners.find((r) => r.partition === partitionOf(agents[0]!.deviceHex))!.owner_hub!;
    const theirs = new Set(owners.filter((r) => r.owner_hub === victimId).map((r) => r.partition));
    const onVictim = agents.filter((a) => theirs.has(partitionOf(a.deviceHex)));
    await hubs[Number(victimId.slice(1))]!.kill('SIGKILL');
    // Receipts the dead hub sent before it died have arrived by now; none can come from the
    // survivor until the lease (2 s) has run out.
    await new Promise((r) => setTimeout(r, 200));
    const ackedAfterKill = onVictim.map((a) => a.agent!.snapshot().ackedUnits);
    await waitFor(
      () => onVictim.every((a, i) => a.agent!.snapshot().ackedUnits > ackedAfterKill[i]! + 50n),
      "the dead hub's devices receipted again by the survivor (their own re-send timer is 10 minutes)",
      120_000,
    );

    // The meters stop; everything drains, each voucher counted once.
    clearInterval(tick);
    const final = meter;
    await waitFor(
      () => agents.every((a) => a.agent!.snapshot().ackedUnits === final),
      `every device receipted up to ${final}`,
      120_000,
    );
    for (const a of agents) {
      const r = await cdb.db.query<{ u: string; equivocated: boolean }>(
        'SELECT head_units::text AS u, equivocated FROM channels WHERE device_key = $1',
        [Buffer.from(a.deviceHex, 'hex')],
      );
      expect(r.rows[0]).toEqual({ u: String(final), equivocated: false });
    }
    expect(onVictim.length).toBeGreaterThan(0);
  }, 300_000);
});
