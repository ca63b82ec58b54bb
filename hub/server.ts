// startHub: the hub as a library. Tests, the benchmark and the fleet simulator embed it in-process;
// `tally-hub start` is a thin wrapper. One config in, one handle out.

import { clientIdForHub, type KeyPair } from '../protocol/index.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker/embedded.js';
import { resolveConfig, type HostPort, type HubConfig, type HubConfigInput } from './base/config.js';
import { HubCore } from './core/hub-core.js';
import { clearRunningInfo, initDataDir, openStore, writeRunningInfo, type HubIdentity } from './store/datadir.js';
import { startHttp, type HttpServer } from './http/server.js';
import { connectLink, type HubLink, type Partitions } from './broker/link.js';
import { SignaturePool } from './ingest/signature-pool.js';
import { HubMetrics } from './base/metrics.js';
import { downlinkVia } from './model/downlink.js';
import { openPostgresStore } from './store/postgres/store.js';
import { ClusterMember } from './cluster/member.js';
import type { HubStore } from './store/types.js';

export interface HubHandle {
  readonly config: HubConfig;
  readonly identity: HubIdentity;
  readonly hubKey: KeyPair;
  readonly publicKeyHex: string;
  readonly core: HubCore;
  readonly metrics: HubMetrics;
  /** URL devices connect to (the embedded broker's, or the external one given). */
  readonly mqttUrl: string;
  /** Bound address of the embedded broker; undefined with an external broker. */
  readonly mqttAddress: HostPort | undefined;
  readonly httpAddress: HostPort;
  readonly httpUrl: string;
  readonly adminToken: string;
  /** The partitions this hub takes uplinks of [P-6.7], changeable at run time; undefined with the
   *  embedded broker (which serves every partition). */
  readonly partitions: Partitions | undefined;
  /** Cluster mode: this hub's leases and ownership; undefined for a hub on its own. */
  readonly cluster: ClusterMember | undefined;
  /**
   * Stops the embedded broker and starts a fresh one on the same address, as a broker restart in
   * the field would: sessions and queued messages are gone, every client must reconnect. Used by
   * the simulator's broker-restart fault and the reliability suite. Throws with an external broker.
   */
  restartBroker(): Promise<void>;
  /** Commits what is pending, publishes the last receipts and stops everything. */
  close(): Promise<void>;
}

export async function startHub(input: HubConfigInput = {}): Promise<HubHandle> {
  const config = resolveConfig(input);
  const { identity } = initDataDir(config.dataDir, {
    ...(config.network !== undefined ? { network: config.network } : {}),
    synchronous: config.sqliteSynchronous,
  });
  const cluster = config.clusterHubId
    ? new ClusterMember({
        storeUrl: config.storeUrl!,
        hubId: config.clusterHubId,
        leaseMs: config.leaseMs,
        log: config.log,
      })
    : undefined;
  const store = config.storeUrl
    ? await openSharedStore(config.storeUrl, identity, cluster)
    : openStore(config.dataDir, config.sqliteSynchronous);
  const metrics = new HubMetrics({ processMetrics: true });
  const pool = config.verifyWorkers > 0 ? new SignaturePool(config.verifyWorkers) : undefined;
  const core = await HubCore.open(config, identity, store, metrics, config.now, pool);
  metrics.watchLedger(async () => {
    const s = await core.stats();
    const last = await store.lastEpoch();
    return {
      channelsByState: s.channelsByState,
      acceptedAmount: BigInt(s.acceptedAmount),
      settledAmount: BigInt(s.settledAmount),
      ...(last ? { lastEpoch: { epoch: last.epoch, closedAtMs: last.closedAtMs } } : {}),
    };
  });
  const log = config.log;

  let broker: EmbeddedBroker | undefined;
  let link: HubLink | undefined;
  let http: HttpServer | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    const launchBroker = (listen: HostPort) =>
      startEmbeddedBroker({
        listen,
        now: config.now,
        admission: {
          maxPending: config.mqttMaxPending,
          maxPendingPerAddress: config.mqttMaxPendingPerAddress,
          connectsPerSecond: config.mqttConnectsPerSecond,
        },
        policy: {
          hubKey: identity.keyPair.publicKey,
          brokerSecret: identity.brokerSecret,
          credentialWindowMs: config.credentialWindowMs,
          deviceStatus: (hex) => core.deviceStatus(hex),
          credentialUsed: (hex, issuedAtMs) => core.credentialUsed(hex, issuedAtMs),
        },
        events: {
          onReject: (reason, device, detail) => core.pipeline.recordBrokerRejection(reason, device, detail),
          // A device that subscribed to its downlink can receive its GRANT now [P-7.1].
          onDeviceSubscribed: (hex) => core.greet(hex, false),
          onDeviceConnected: (hex) => core.setConnected(hex, true),
          onDeviceDisconnected: (hex) => core.setConnected(hex, false),
          onUplink: (topic, payload) => core.pipeline.onMessage(topic, payload),
        },
      });
    if (!config.brokerUrl) broker = await launchBroker(config.mqttListen);
    const mqttUrl = broker ? broker.url : config.brokerUrl!;
    // The embedded broker hands uplinks to the pipeline in-process (broker/embedded.ts says why);
    // an external broker is reached through an MQTT client.
    if (!broker) {
      link = await connectLink({
        url: mqttUrl,
        clientId:
          config.brokerClientId ??
          (cluster ? `tally-hub-${identity.network}-${config.clusterHubId!}` : clientIdForHub(identity.network, 1)),
        // A cluster member starts deaf: each partition is added once its lease is held and loaded.
        partitions: cluster ? [] : config.partitions,
        username: config.brokerUsername,
        password: config.brokerPassword,
        tls: config.brokerTls,
        onMessage: (topic, payload) => core.pipeline.onMessage(topic, payload),
        log,
      });
    }
    // Through whichever broker is current: restartBroker() replaces it.
    const downlink = link ?? downlinkVia((topic, bytes) => broker!.publish(topic, bytes));
    core.attach({
      downlink,
      ...(broker ? { disconnectDevice: (hex: string) => broker!.disconnectDevice(hex) } : {}),
      seesConnections: broker !== undefined,
    });
    if (cluster) await cluster.start(core, link!.partitions);
    http = await startHttp({
      core,
      metrics,
      listen: config.http,
      adminToken: identity.adminToken,
      maxLiveStreams: config.httpMaxLiveStreams,
      allowedHosts: config.httpAllowedHosts,
      log,
    });

    const sweepEvery = Math.max(50, Math.min(250, Math.floor(config.reorderWindowMs / 4)));
    timers.push(setInterval(() => core.pipeline.sweep(), sweepEvery));
    if (config.settleEveryMs > 0) {
      timers.push(
        setInterval(() => {
          core
            .settle({ skipEmpty: true })
            .then((epoch) => {
              if (epoch)
                log(
                  'info',
                  `settled epoch ${epoch.epoch}: ${epoch.entryCount} channel(s), ${epoch.totalDeltaAmount} minor units`,
                );
            })
            .catch((err: unknown) =>
              log('error', `periodic settlement failed (nothing was written): ${(err as Error).message}`),
            );
        }, config.settleEveryMs),
      );
    }
    for (const t of timers) t.unref();

    writeRunningInfo(config.dataDir, { pid: process.pid, http: http.url, mqtt: mqttUrl, startedAtMs: Date.now() });
    log('info', `hub ${identity.publicKeyHex} (network ${identity.network}) broker ${mqttUrl} http ${http.url}`);

    let closing: Promise<void> | undefined;
    const handle: HubHandle = {
      config,
      identity,
      hubKey: identity.keyPair,
      publicKeyHex: identity.publicKeyHex,
      core,
      metrics,
      mqttUrl,
      mqttAddress: broker?.address,
      httpAddress: http.address,
      httpUrl: http.url,
      adminToken: identity.adminToken,
      partitions: link?.partitions,
      cluster,
      restartBroker: async () => {
        if (!broker) throw new Error('restartBroker: the hub uses an external broker');
        const address = broker.address;
        await broker.close();
        broker = await launchBroker(address);
      },
      close: () =>
        (closing ??= (async () => {
          for (const t of timers) clearInterval(t);
          await http!.close();
          // Flushes, then gives the leases back so the others take them without waiting for expiry.
          await cluster?.stop();
          await core.pipeline.placed();
          await core.pipeline.commit.stop();
          await link?.close();
          if (broker) await broker.close();
          await pool?.close();
          await store.close();
          clearRunningInfo(config.dataDir, process.pid);
        })()),
    };
    return handle;
  } catch (err) {
    for (const t of timers) clearInterval(t);
    await http?.close().catch(() => {});
    await cluster?.stop().catch(() => {});
    await link?.close().catch(() => {});
    await broker?.close().catch(() => {});
    await pool?.close();
    await store.close();
    throw err;
  }
}

/**
 * The ledger in PostgreSQL. Every hub of a cluster signs with the same hub key in the same network
 * (channel records and receipts name them [P-3.1]): the first hub writes both into the database,
 * and a hub whose data dir holds another key is refused before it serves anything.
 */
async function openSharedStore(
  url: string,
  identity: HubIdentity,
  cluster: ClusterMember | undefined,
): Promise<HubStore> {
  const store = await openPostgresStore(url, cluster ? { beforeCommit: cluster.fence } : {});
  try {
    for (const [key, value] of [
      ['hubPublicKey', identity.publicKeyHex],
      ['network', identity.network],
    ] as const) {
      const stored = await store.getMeta(key);
      if (stored === undefined) await store.setMeta(key, value);
      else if (stored !== value)
        throw new Error(`the database at --store belongs to ${key} ${stored}, this data dir to ${value}`);
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
