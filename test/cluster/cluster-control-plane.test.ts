// The control plane and the one settlement chain of a cluster, on a real PostgreSQL, a real MQTT
// broker and a real agent. Two hubs split the partitions; the device belongs to hub B. It is
// enrolled and later topped up through hub A: B, its owner, hears both through NOTIFY and grants
// the device at once, so the device goes on past its first capacity. Both hubs then settle at the
// same moment: one epoch chain comes out, each voucher settled once.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeEpochRecord, fromHex, generateKeyPair, partitionOf, toHex } from '../../protocol/index.js';
import type { HubHandle } from '../../hub/server.js';
import { waitFor } from '../../support/test-hub.js';
import { describePostgres, testPool } from '../hub/helpers/postgres.js';
import { testHub } from '../hub/helpers/hub.js';
import { AgentFixture } from '../agent/helpers/agent-fixture.js';
import { startClusterInfra, type ClusterInfra } from './helpers/cluster-env.js';

describePostgres('test/cluster/cluster-control-plane.test.ts', 'cluster control plane and settlement', (bin) => {
  let infra: ClusterInfra | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    infra = await startClusterInfra(bin);
  }, 60_000);
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await infra?.close();
  });

  it('reaches the owner from any hub, and settles one chain', async () => {
    const { url, dirs } = await infra!.prepare('control', 2);
    const broker = infra!.broker;
    const start = (dir: string, id: string) =>
      testHub(dir, { brokerUrl: broker.url, store: url, clusterHubId: id, leaseMs: 3000 });
    const a: HubHandle = await start(dirs[0]!, 'a');
    cleanups.push(() => a.close());
    const b: HubHandle = await start(dirs[1]!, 'b');
    cleanups.push(() => b.close());
    await waitFor(
      () => a.cluster!.leases.owned().size === 128 && b.cluster!.leases.owned().size === 128,
      'the partitions split between the two hubs',
      60_000,
    );

    // A device whose partition hub B owns.
    const dev = new AgentFixture();
    cleanups.push(() => dev.cleanup());
    let keyPair = dev.keyPair;
    while (!b.cluster!.leases.holds(partitionOf(toHex(keyPair.publicKey)))) keyPair = generateKeyPair();
    Object.assign(dev, { keyPair });
    expect(b.cluster!.owns(dev.deviceHex)).toBe(true);

    const [enrolled] = await a.core.enrol([
      { publicKey: dev.deviceHex, unit: 'Wh', pricePerUnit: 2n, capacity: 200n }, // 100 units
    ]);
    dev.setCounter(0n);
    const agent = dev.start({ url: broker.url, keyPair: a.hubKey });
    cleanups.push(() => agent.stop());
    await waitFor(() => agent.snapshot().channel !== undefined, 'GRANT from the owner', 30_000);
    dev.setCounter(150n);
    await waitFor(() => agent.snapshot().ackedUnits === 100n, 'receipted up to the capacity', 30_000);

    // The top-up goes through hub A; B applies it and the device carries on.
    await a.core.topup(enrolled!.channel.channelId, 1000n);
    await waitFor(() => agent.snapshot().ackedUnits === 150n, 'receipted past the old capacity', 30_000);

    const db = testPool(url, 1);
    cleanups.push(() => db.end());
    const row = (
      await db.query<{ u: string; cap: string; state: string }>(
        'SELECT head_units::text AS u, capacity::text AS cap, state FROM channels WHERE device_key = $1',
        [Buffer.from(dev.deviceHex, 'hex')],
      )
    ).rows[0];
    expect(row).toEqual({ u: '150', cap: '1200', state: 'open' });

    // Both hubs settle at once: one waits for the other; one chain, each voucher settled once.
    const [ea, eb] = await Promise.all([a.core.settle(), b.core.settle()]);
    const epochs = (
      await db.query<{ epoch: string; total: string }>(
        'SELECT epoch::text AS epoch, total_delta_amount::text AS total FROM epochs ORDER BY epoch',
      )
    ).rows;
    expect(epochs.map((e) => e.epoch)).toEqual(['1', '2']);
    expect(epochs.reduce((s, e) => s + BigInt(e.total), 0n)).toBe(300n);
    expect([ea!.epoch, eb!.epoch].sort()).toEqual(['1', '2']);
    // Each epoch chains to the one before it [P-8.2].
    const chain = await a.core.listEpochs();
    expect(chain.map((e) => e.epoch)).toEqual(['1', '2']);
    const e2 = decodeEpochRecord(fromHex(chain[1]!.record)!);
    expect(e2.ok && toHex(e2.value.prevRoot)).toBe(chain[0]!.root);

    // Any hub shows the whole fleet: a second device, owned by A and enrolled through A, is found,
    // topped up and shown through B, which never held it live.
    let other = generateKeyPair();
    while (!a.cluster!.leases.holds(partitionOf(toHex(other.publicKey)))) other = generateKeyPair();
    const otherHex = toHex(other.publicKey);
    const [second] = await a.core.enrol([{ publicKey: otherHex, unit: 'Wh', pricePerUnit: 2n, capacity: 50n }]);
    expect(b.core.fleet.devices.has(otherHex)).toBe(false);
    await b.core.topup(second!.channel.channelId.slice(0, 12), 10n); // a prefix, as an operator types it
    const shown = await b.core.fleetDevice(otherHex);
    expect(shown.channelDetails.map((c) => c.capacity)).toEqual(['60']);
    for (const hub of [a, b]) {
      const devices = await hub.core.fleetDevices();
      expect(devices.map((d) => d.publicKey).sort()).toEqual([dev.deviceHex, otherHex].sort());
      // Only the owner sees the device's connection.
      expect(devices.find((d) => d.publicKey === dev.deviceHex)!.connected).toBe(hub === b);
      const stats = await hub.core.stats();
      expect(stats).toMatchObject({ devices: 2, channels: 2, acceptedUnits: '150', settledAmount: '300' });
      expect((await hub.core.showChannel(enrolled!.channel.channelId)).head.cumUnits).toBe('150');
    }
  }, 180_000);
});
