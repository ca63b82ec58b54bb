// Hubs and agents on a real clustered broker (nats-server, 3 nodes, JetStream, MQTT):
// - two hubs split the 256 partitions and each device's uplinks reach exactly the hub that owns
//   its partition (each hub has its own data dir and SQLite file: one SQLite file is one hub's;
//   ownership across hubs sharing one database is the PostgreSQL store's);
// - a hub's partition set changes at run time (partitions.add/remove on its broker link);
// - an agent streaming through node A to a hub on node B loses node A, reconnects to another node
//   and the hub's sums equal the agent's; then the hub's own node dies and it moves too.
// Runs when a nats-server binary is found; without one the suite says it did not run; under
// CI=true a missing binary fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { partitionOf, partitionUplinkFilter, generateKeyPair, toHex } from '../../protocol/index.js';
import { connectLink } from '../../hub/broker/link.js';
import { HubLog } from '../../hub/base/log-codes.js';
import type { HubHandle } from '../../hub/server.js';
import { findNatsServer, startNatsCluster, type NatsCluster } from '../../support/nats-cluster.js';
import { waitFor } from '../../support/test-hub.js';
import { TestDevice } from '../hub/helpers/device.js';
import { tempDir, testHub } from '../hub/helpers/hub.js';
import { AgentFixture } from '../agent/helpers/agent-fixture.js';

const bin = findNatsServer();

if (!bin) {
  describe('hubs on a clustered broker (nats-server)', () => {
    if (process.env.CI) {
      it('needs a nats-server binary in CI', () => {
        throw new Error('nats-server not found: install it (Debian: nats-server) or set TALLY_NATS_BIN');
      });
    } else {
      console.warn(
        'test/cluster/hubs-on-nats.test.ts NOT RUN: no nats-server binary (install nats-server or set TALLY_NATS_BIN)',
      );
      it.skip('NOT RUN: no nats-server binary found (install nats-server or set TALLY_NATS_BIN)', () => {});
    }
  });
} else {
  describe('hubs and agents on a 3-node nats-server cluster', () => {
    let cluster: NatsCluster;
    const cleanups: (() => Promise<void> | void)[] = [];

    beforeAll(async () => {
      cluster = await startNatsCluster({ bin, size: 3, mqttExtra: '  ack_wait: "5s"' });
    });
    afterAll(async () => {
      for (const c of cleanups.reverse()) await c();
      await cluster?.stop();
    });

    async function hubOn(urls: string, extra: Parameters<typeof testHub>[1] = {}): Promise<HubHandle> {
      const tmp = tempDir();
      const hub = await testHub(tmp.dir, { brokerUrl: urls, credentialWindowMs: 600_000, ...extra });
      cleanups.push(() => tmp.cleanup());
      cleanups.push(() => hub.close());
      return hub;
    }

    it('splits the partitions between two hubs: every device is served by exactly its owner', async () => {
      // Half each: over EACH_FILTER_LIMIT, so each hub subscribes with the wildcard and drops the
      // other half's uplinks itself (partition-filters.ts: one filter per partition costs about a
      // second each on nats-server).
      const a = await hubOn(cluster.urls[0]!, { partitions: '0-127', brokerClientId: 'tally-hub-test-net-a' });
      const b = await hubOn(cluster.urls[1]!, { partitions: '128-255', brokerClientId: 'tally-hub-test-net-b' });
      expect(a.partitions!.owned()).toHaveLength(128);
      expect(b.partitions!.owned()).toHaveLength(128);
      const ownerOf = (hex: string) => (partitionOf(hex) < 128 ? a : b);
      // Keys until each half has four devices; each is enrolled at its owner only.
      const devices: TestDevice[] = [];
      const count = (hub: HubHandle) => devices.filter((d) => d.hub === hub).length;
      while (count(a) < 4 || count(b) < 4) {
        const key = generateKeyPair();
        const owner = ownerOf(toHex(key.publicKey));
        if (count(owner) < 4) devices.push(await new TestDevice(owner, key).enrol({ price: 2n }));
      }
      for (const [i, d] of devices.entries()) {
        // hello -> a GRANT signed by the owner (TestDevice checks it with its owner's key).
        await d.connect(cluster.urls[i % 3]!);
        cleanups.push(() => d.disconnect());
      }
      // Every device streams three segments, all devices at once, across both halves.
      await Promise.all(
        devices.map(async (d) => {
          for (const n of [10, 6, 4]) await d.publish(d.build(n));
        }),
      );
      for (const d of devices) {
        const receipt = await d.receiptAtLeast(20n);
        expect(receipt.seq).toBe(20n);
        expect(receipt.cumAmount).toBe(40n);
      }
      for (const [hub, other] of [
        [a, b],
        [b, a],
      ] as const) {
        hub.core.flush();
        const mine = devices.filter((d) => d.hub === hub);
        for (const d of mine) {
          const ch = hub.core.showDevice(d.hex).channelDetails[0]!;
          expect(ch.head.seq).toBe('20');
          expect(ch.head.cumAmount).toBe('40');
          expect(ch.head.hash).toBe(toHex(d.head!.hash));
          expect(ch.equivocated).toBe(false);
        }
        // The other half never reached ingest here: nothing unknown, nothing refused. It did reach
        // the link (through the wildcard) and was dropped there.
        expect(await hub.core.ledger.rejectionCounts()).toEqual([]);
        expect(hub.partitions!.dropped).toBeGreaterThan(0);
        for (const d of devices.filter((d) => d.hub === other)) expect(() => hub.core.showDevice(d.hex)).toThrow();
        // Nothing lost, nothing doubled: what settles is exactly what the owner's devices signed.
        expect((await hub.core.settle())!.totalDeltaAmount).toBe(String(40 * mine.length));
      }
    }, 180_000);

    it('adds and removes partitions at run time', async () => {
      const got: string[] = [];
      const link = await connectLink({
        url: cluster.urls.join(','),
        clientId: 'tally-hub-test-net-dyn',
        partitions: [1, 2],
        onMessage: (topic) => got.push(topic),
        log: new HubLog(),
      });
      cleanups.push(() => link.close());
      const pub = await mqtt.connectAsync(cluster.urls[2]!, { clientId: 'dyn-pub', protocolVersion: 4 });
      cleanups.push(() => pub.endAsync());
      const dev = (p: number) => {
        for (;;) {
          const hex = toHex(generateKeyPair().publicKey);
          if (partitionOf(hex) === p) return hex;
        }
      };
      const devs = [dev(1), dev(2), dev(3)];
      const send = async (tag: string) => {
        for (const d of devs) {
          const topic = partitionUplinkFilter(partitionOf(d)).replace('+', d).replace('#', tag);
          await pub.publishAsync(topic, 'x', { qos: 1 });
        }
      };
      const seen = (tag: string) => got.filter((t) => t.endsWith(`/${tag}`)).map((t) => partitionOf(t.split('/')[5]!));

      await send('one');
      await send('mark1');
      await waitFor(() => seen('mark1').length === 2, 'first marker');
      expect(seen('one').sort()).toEqual([1, 2]);

      await link.partitions.remove(2);
      await link.partitions.add(3);
      expect(link.partitions.owned()).toEqual([1, 3]);
      await send('two');
      await send('mark2');
      await waitFor(() => seen('mark2').length === 2, 'second marker');
      expect(seen('two').sort()).toEqual([1, 3]);
      expect(seen('mark2').sort()).toEqual([1, 3]);
    });

    it("keeps the sums exact when the agent's node dies, then the hub's", async () => {
      // The hub prefers node B, the agent node A; each moves to the next node when its own dies.
      const [A, B, C] = cluster.urls as [string, string, string];
      const hub = await hubOn(`${B},${C},${A}`, { brokerClientId: 'tally-hub-test-net-f' });
      const dev = new AgentFixture();
      cleanups.push(() => dev.cleanup());
      await hub.core.enrol([{ publicKey: dev.deviceHex, unit: 'Wh', pricePerUnit: 3n, capacity: 10_000_000n }]);
      const channelOf = () => hub.core.showDevice(dev.deviceHex).channelDetails[0]!;
      dev.setCounter(0n);
      const agent = dev.start({ url: `${A},${B},${C}`, keyPair: hub.hubKey });
      cleanups.push(() => agent.stop());
      await waitFor(() => agent.snapshot().channel !== undefined, 'grant through the cluster', 30_000);
      dev.setCounter(300n);
      await waitFor(() => channelOf().head.cumUnits === '300', '300 units at the hub', 30_000);

      await cluster.kill(0); // node A: the agent's
      dev.setCounter(700n);
      await waitFor(() => channelOf().head.cumUnits === '700', '700 units after node A died', 60_000);
      await waitFor(() => agent.snapshot().outboxDepth === 0, 'outbox drained', 60_000);
      await cluster.restart(0);

      await cluster.kill(1); // node B: the hub's (and now the agent's)
      dev.setCounter(1000n);
      await waitFor(() => channelOf().head.cumUnits === '1000', '1000 units after node B died', 60_000);
      await waitFor(() => agent.snapshot().outboxDepth === 0, 'outbox drained again', 60_000);
      await cluster.restart(1);

      const ch = channelOf();
      expect(ch.head.seq).toBe('1000');
      expect(ch.head.cumAmount).toBe('3000');
      expect(ch.equivocated).toBe(false);
      expect(agent.snapshot().ackedUnits).toBe(1000n);
      expect(Buffer.from(dev.store!.load().receipt!.headHash).toString('hex')).toBe(ch.head.hash);
      expect((await hub.core.settle())!.totalDeltaAmount).toBe('3000');
    }, 240_000);
  });
}
