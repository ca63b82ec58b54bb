// What the delivery cases run against: one hub (embedded broker, SQLite), or a 3-hub cluster (three
// members on one PostgreSQL, one shared aedes broker). The cases see only this interface, so the
// same assertions hold for both.
import type { HubConfigInput } from '../../../hub/base/config.js';
import type { HubHandle } from '../../../hub/server.js';
import type { HubLedger } from '../../../hub/store/types.js';
import type { KeyPair } from '../../../protocol/index.js';
import { tempDir, testHub } from '../../hub/helpers/hub.js';
import { startHubCluster, type ClusterInfra } from '../../cluster/helpers/cluster-env.js';

export interface DeliveryTarget {
  /** Where the agents connect and whose key signs their grants and receipts. */
  readonly connect: { url: string; keyPair: KeyPair };
  enrol(hexKeys: string[]): Promise<void>;
  /** Commits what every hub holds in memory. */
  flush(): Promise<void>;
  /** The ledger (the whole fleet's, for a cluster) as it stands. */
  ledger(): HubLedger;
  /** The broker the devices use restarts (every connection dropped). */
  restartBroker(): Promise<void>;
  /** Everything the devices talk to goes away (hubs and broker) until back(). */
  away(): Promise<void>;
  back(): Promise<void>;
  close(): Promise<void>;
}

export type OpenTarget = (hubOptions?: HubConfigInput) => Promise<DeliveryTarget>;

const enrolAll = async (hub: HubHandle, hexKeys: string[]) => {
  await hub.core.enrol(hexKeys.map((publicKey) => ({ publicKey, unit: 'Wh', pricePerUnit: 2n, capacity: 10n ** 15n })));
};

/** One hub with its embedded broker and its SQLite file in a temp dir. */
export const singleHub: OpenTarget = async (hubOptions = {}) => {
  const tmp = tempDir();
  const options = { credentialWindowMs: 600_000, ...hubOptions };
  let hub: HubHandle | undefined = await testHub(tmp.dir, options);
  const port = hub.mqttAddress!.port;
  const live = () => {
    if (!hub) throw new Error('the hub is away');
    return hub;
  };
  return {
    connect: { url: hub.mqttUrl, keyPair: hub.hubKey },
    enrol: (keys) => enrolAll(live(), keys),
    flush: () => live().core.flush(),
    ledger: () => live().core.ledger,
    restartBroker: () => live().restartBroker(),
    async away() {
      await live().close();
      hub = undefined;
    },
    async back() {
      hub = await testHub(tmp.dir, { ...options, mqttListen: `127.0.0.1:${port}` });
    },
    async close() {
      await hub?.close();
      tmp.cleanup();
    },
  };
};

/** The lease of the test clusters: short, so a member that goes away is replaced quickly. */
export const TEST_LEASE_MS = 2_000;

let databases = 0;

/** Three cluster members in this process on `infra` (one database per target). */
export function hubCluster(infra: () => ClusterInfra, size = 3): OpenTarget {
  return async (hubOptions = {}) => {
    const cdb = await infra().prepare(`delivery_${++databases}`, size);
    const options = { credentialWindowMs: 600_000, leaseMs: TEST_LEASE_MS, ...hubOptions };
    let hubs = await startHubCluster(infra(), cdb, size, options);
    const first = () => {
      if (hubs.length === 0) throw new Error('the cluster is away');
      return hubs[0]!;
    };
    return {
      connect: { url: infra().broker.url, keyPair: cdb.identity.keyPair },
      // Through the first member: the owner of each device hears of it through the database.
      enrol: (keys) => enrolAll(first(), keys),
      async flush() {
        for (const h of hubs) await h.core.flush();
      },
      ledger: () => first().core.ledger,
      restartBroker: () => infra().broker.restart(),
      async away() {
        for (const h of hubs.splice(0)) await h.close();
        await infra().broker.stop();
      },
      async back() {
        await infra().broker.start();
        hubs = await startHubCluster(infra(), cdb, size, options);
      },
      async close() {
        for (const h of hubs.splice(0)) await h.close();
        await infra().broker.start();
      },
    };
  };
}
