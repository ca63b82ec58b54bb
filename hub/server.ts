// startHub: the hub as a library. Tests, the benchmark and the fleet simulator embed it in-process;
// `tally-hub start` is a thin wrapper. One config in, one handle out.

import { X509Certificate } from 'node:crypto';
import { clientIdForHub, type KeyPair } from '../protocol/index.js';
import { startEmbeddedBroker, type BrokerListener, type EmbeddedBroker, type ListenerSpec } from './broker/embedded.js';
import { isLoopback, resolveConfig, type HostPort, type HubConfig, type HubConfigInput } from './base/config.js';
import { HubCore } from './core/hub-core.js';
import { clearRunningInfo, initDataDir, writeRunningInfo, type HubIdentity } from './store/datadir.js';
import { openLedger } from './store/open.js';
import { startHttp, type HttpServer } from './http/server.js';
import { connectLink, type HubLink, type Partitions } from './broker/link.js';
import { SignaturePool } from './ingest/signature-pool.js';
import { HubMetrics } from './base/metrics.js';
import { downlinkVia } from './model/downlink.js';
import { ClusterMember } from './cluster/member.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { readNofileLimit } from '../common/nofile.js';
import { DescriptorWatch } from './base/descriptors.js';
import { VERSION } from '../common/version.js';
import { ConfigError } from './base/config.js';
import { isAnchorError, loadAnchorClient, readAnchorKey } from './anchor/index.js';
import { EpochAnchorer } from './anchor/service.js';

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
  /** Every listener of the embedded broker (plain, TLS, WebSocket); empty with an external one. */
  readonly mqttListeners: readonly BrokerListener[];
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

export async function startHub(
  input: HubConfigInput & {
    /** Test hook: publisher timings (poll, rebroadcast, retry) for a fast in-process chain. */
    anchorPublishOptions?: Record<string, unknown>;
  } = {},
): Promise<HubHandle> {
  const config = resolveConfig(input);
  const { identity } = initDataDir(config.dataDir, {
    ...(config.network !== undefined ? { network: config.network } : {}),
    synchronous: config.sqliteSynchronous,
  });
  const cluster = config.clusterHubId
    ? new ClusterMember({
        store: config.store.kind === 'postgres' ? config.store : { url: '', password: undefined },
        hubId: config.clusterHubId,
        leaseMs: config.leaseMs,
        log: config.log,
      })
    : undefined;
  const store = await openLedger(config, identity, cluster ? { beforeCommit: cluster.fence } : {});
  const metrics = new HubMetrics({ processMetrics: true });
  const pool =
    config.verifyWorkers > 0
      ? new SignaturePool(config.verifyWorkers, {
          onWorkerExit: (exit) => {
            metrics.verifyWorkerExits.inc();
            metrics.verifyWorkers.set(pool?.liveWorkers ?? 0);
            config.log.event('VERIFY_WORKER_EXITED', { ...exit });
          },
        })
      : undefined;
  metrics.verifyWorkers.set(pool?.liveWorkers ?? 0);
  let core: HubCore;
  try {
    core = await HubCore.open(config, identity, store, metrics, config.now, pool);
  } catch (err) {
    await pool?.close();
    await store.close();
    throw err;
  }
  // Webhook delivery runs beside ingest, never in it: the outbox is its only link to the rest.
  const webhooks = new WebhookDispatcher({
    outbox: store.outbox,
    config: config.webhooks,
    metrics: metrics.webhooks,
    now: config.now,
    log: config.log,
    userAgent: `tally-hub/${VERSION}`,
  });
  core.onWebhookEvents = () => webhooks.nudge();
  metrics.webhooks.watchOutbox(() => store.outbox.countDeliveries());
  metrics.watchLedger(async () => {
    const s = await core.stats();
    const last = await store.lastEpoch();
    return {
      channelsByState: s.channelsByState,
      acceptedAmount: BigInt(s.acceptedAmount),
      settledAmount: BigInt(s.settledAmount),
      ...(last ? { lastEpoch: { epoch: last.epoch, closedAtMs: last.closedAtMs } } : {}),
      ...(config.anchor ? { anchor: await store.anchorStatus() } : {}),
    };
  });
  const log = config.log;
  // Read now: at the limit, reading it would itself need a descriptor.
  const descriptors = new DescriptorWatch(readNofileLimit(), metrics, log);
  const serverError = (where: 'mqtt' | 'http') => (err: Error) => {
    if (!descriptors.error(where, err)) log.event('SERVER_ERROR', { where, err });
  };

  let broker: EmbeddedBroker | undefined;
  let link: HubLink | undefined;
  let http: HttpServer | undefined;
  const timers: NodeJS.Timeout[] = [];
  let anchorer: EpochAnchorer | undefined;
  try {
    if (config.anchor) {
      const a = config.anchor;
      let privateKey: `0x${string}`;
      try {
        privateKey = readAnchorKey(a.keyFile);
      } catch (err) {
        // A key file the operator must fix is a configuration error (exit 2), found before any I/O.
        if (isAnchorError(err)) throw new ConfigError([`--anchor-key: ${err.code}: ${err.message}`]);
        throw err;
      }
      anchorer = new EpochAnchorer(
        await loadAnchorClient(),
        store,
        {
          rpcUrl: a.rpcUrl,
          contract: a.contract,
          privateKey,
          batchMax: a.batchMax,
          retry: { minMs: 1_000, maxMs: 300_000, maxAttempts: Infinity },
          ...(input.anchorPublishOptions ? { publish: input.anchorPublishOptions } : {}),
        },
        log,
      );
      // Each closed epoch (on demand or by the timer) wakes it; epochs left pending by an earlier
      // run are found in the store when it starts.
      core.onEpochClosed = () => anchorer!.notify();
      anchorer.start();
    }
    const launchBroker = (listen: HostPort, listeners: readonly ListenerSpec[]) =>
      startEmbeddedBroker({
        listen,
        listeners,
        ...(config.tls ? { tls: config.tls } : {}),
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
          onDeviceConnected: (hex) => {
            core.setConnected(hex, true);
            log.event('DEVICE_CONNECTED', { device: hex });
          },
          onDeviceDisconnected: (hex) => {
            core.setConnected(hex, false);
            log.event('DEVICE_DISCONNECTED', { device: hex });
          },
          onUplink: (topic, payload) => core.pipeline.onMessage(topic, payload),
          onServerError: serverError('mqtt'),
        },
      });
    const extraListeners: ListenerSpec[] = [
      ...(config.mqttTlsListen ? [{ kind: 'mqtts' as const, listen: config.mqttTlsListen }] : []),
      ...(config.mqttWsListen ? [{ kind: 'ws' as const, listen: config.mqttWsListen }] : []),
      ...(config.mqttWssListen ? [{ kind: 'wss' as const, listen: config.mqttWssListen }] : []),
    ];
    if (!config.brokerUrl) broker = await launchBroker(config.mqttListen, extraListeners);
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
        partitionFilters: config.partitionFilters,
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
      readsNeedToken: !config.httpPublicRead && (config.httpReadToken !== undefined || !isLoopback(config.http.host)),
      ...(config.httpReadToken !== undefined ? { readToken: config.httpReadToken } : {}),
      rate: {
        requestsPerSecond: config.httpRequestsPerSecond,
        maxPendingPerAddress: config.httpMaxPendingPerAddress,
      },
      ...(config.httpTls ? { tls: config.httpTls } : {}),
      maxLiveStreams: config.httpMaxLiveStreams,
      allowedHosts: config.httpAllowedHosts,
      log,
      onServerError: serverError('http'),
    });

    const sweepEvery = Math.max(50, Math.min(250, Math.floor(config.reorderWindowMs / 4)));
    timers.push(setInterval(() => core.pipeline.sweep(), sweepEvery));
    await core.loadWebhookState();
    webhooks.start();
    const offlineEvery = Math.max(50, Math.min(1_000, Math.floor(config.webhooks.offlineAfterMs / 4)));
    timers.push(
      setInterval(() => {
        core.checkOffline().catch((err: unknown) => log.event('WEBHOOK_OFFLINE_CHECK_FAILED', { err }));
      }, offlineEvery),
    );
    timers.push(setInterval(() => descriptors.check(), 1000));
    if (config.settleEveryMs > 0) {
      timers.push(
        setInterval(() => {
          core
            .settle({ skipEmpty: true })
            .then((epoch) => {
              if (epoch)
                log.event('EPOCH_SETTLED', {
                  epoch: epoch.epoch.toString(),
                  channels: epoch.entryCount,
                  amount: epoch.totalDeltaAmount.toString(),
                });
            })
            .catch((err: unknown) => log.event('SETTLE_FAILED', { err }));
        }, config.settleEveryMs),
      );
    }
    for (const t of timers) t.unref();

    writeRunningInfo(config.dataDir, {
      pid: process.pid,
      http: http.url,
      mqtt: mqttUrl,
      startedAtMs: Date.now(),
      ...(config.httpTls ? { httpCertSha256: new X509Certificate(config.httpTls.cert).fingerprint256 } : {}),
    });
    const brokerUrls = broker ? broker.listeners.map((l) => l.url).join(' ') : mqttUrl;
    log.event('HUB_STARTED', {
      hub: identity.publicKeyHex,
      network: identity.network,
      version: VERSION,
      store: config.store.kind === 'sqlite' ? 'sqlite' : config.store.display,
    });
    log.event('HUB_LISTENING', { mqtt: brokerUrls, http: http.url, broker: broker ? 'embedded' : 'external' });

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
      get mqttListeners() {
        return broker?.listeners ?? [];
      },
      httpAddress: http.address,
      httpUrl: http.url,
      adminToken: identity.adminToken,
      partitions: link?.partitions,
      cluster,
      restartBroker: async () => {
        if (!broker) throw new Error('restartBroker: the hub uses an external broker');
        // The same addresses again (a port 0 was bound to a real port the first time).
        const [plain, ...rest] = broker.listeners;
        await broker.close();
        broker = await launchBroker(
          plain!.address,
          rest.map((l) => ({ kind: l.kind as ListenerSpec['kind'], listen: l.address })),
        );
      },
      close: () =>
        (closing ??= (async () => {
          for (const t of timers) clearInterval(t);
          await anchorer?.close();
          await http!.close();
          // Flushes, then gives the leases back so the others take them without waiting for expiry.
          await cluster?.stop();
          await core.pipeline.placed();
          await core.pipeline.commit.stop();
          await link?.close();
          if (broker) await broker.close();
          await pool?.close();
          await webhooks.stop();
          await store.close();
          clearRunningInfo(config.dataDir, process.pid);
          log.event('HUB_STOPPED');
        })()),
    };
    return handle;
  } catch (err) {
    for (const t of timers) clearInterval(t);
    await anchorer?.close();
    await webhooks.stop();
    await http?.close().catch(() => {});
    await cluster?.stop().catch(() => {});
    await link?.close().catch(() => {});
    await broker?.close().catch(() => {});
    await pool?.close();
    await store.close();
    throw err;
  }
}
