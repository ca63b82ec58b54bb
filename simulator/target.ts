// Where the fleet sends its vouchers: an embedded hub started here (the default: nothing to
// install), or a running hub given by its broker URL, HTTP API and admin token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hexToBytes } from '../protocol/index.js';
import { startHub, type HubHandle } from '../hub/server.js';
import type { Logger } from '../common/log.js';
import { HubApi } from './hub-api.js';

export interface Target {
  readonly kind: 'embedded' | 'remote' | 'cluster';
  readonly mqttUrl: string;
  /** CA (PEM) for a broker over TLS. */
  readonly tlsCa: string | undefined;
  readonly api: HubApi;
  readonly hubKey: Uint8Array;
  /** Hands every segment the embedded hub commits to `listener`, with machine-wide ms stamps
   *  (stages.ts); undefined for a remote hub, whose stages are in its /metrics. */
  readonly onSegmentStages:
    | ((
        listener: (channelIdHex: string, lastSeq: bigint, arrived: number, committed: number, receipt: number) => void,
      ) => void)
    | undefined;
  /** EMFILE and ENFILE the embedded hub counted (tally_descriptor_errors_total); undefined for a
   *  remote hub. */
  readonly descriptorErrors: (() => Promise<number>) | undefined;
  /** Group commits the embedded hub has made so far (tally_commit_batch_segments_count); undefined
   *  for a remote hub. */
  readonly groupCommits: (() => Promise<number>) | undefined;
  /** Restarts the embedded broker (the broker-restart fault); undefined for a remote hub. */
  readonly restartBroker: (() => Promise<void>) | undefined;
  close(): Promise<void>;
}

export interface RemoteTarget {
  brokerUrl: string;
  hubApi: string;
  adminToken: string;
  tlsCa?: string;
}

export async function openTarget(remote: RemoteTarget | undefined, logger?: Logger): Promise<Target> {
  if (remote !== undefined) {
    const api = new HubApi(remote.hubApi, remote.adminToken, remote.tlsCa);
    const info = await api.hub();
    return {
      kind: 'remote',
      mqttUrl: remote.brokerUrl,
      tlsCa: remote.tlsCa,
      api,
      hubKey: hexToBytes(info.publicKey),
      onSegmentStages: undefined,
      descriptorErrors: undefined,
      groupCommits: undefined,
      restartBroker: undefined,
      close: async () => {},
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'tally-sim-hub-'));
  let hub: HubHandle;
  try {
    hub = await startHub({
      dataDir,
      mqttListen: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      // The embedded hub of a simulation lives in a temporary directory that is deleted at the
      // end: NORMAL keeps WAL's crash consistency without an fsync per group commit.
      sqliteSynchronous: 'NORMAL',
      settleEveryMs: 0,
      // Clients in a clock-skew run may be far off; the credential window must admit them.
      credentialWindowMs: 3 * 24 * 3600_000,
      // The whole fleet connects from 127.0.0.1 at once: the per-address limits of a site hub
      // would only slow a simulation down.
      mqttConnectsPerSecond: 0,
      mqttMaxPending: 100_000,
      mqttMaxPendingPerAddress: 100_000,
      ...(logger ? { logger } : {}),
    });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    kind: 'embedded',
    mqttUrl: hub.mqttUrl,
    tlsCa: undefined,
    api: new HubApi(hub.httpUrl, hub.adminToken),
    hubKey: hub.hubKey.publicKey,
    onSegmentStages: (listener) => {
      // The hub stamps with this process's performance.now(); timeOrigin makes them machine-wide.
      const o = performance.timeOrigin;
      hub.metrics.segmentStages = (id, seq, arrived, committed, receipt) =>
        listener(id, seq, o + arrived, o + committed, o + receipt);
    },
    descriptorErrors: async () =>
      (await hub.metrics.descriptorErrors.get()).values.reduce((sum, v) => sum + v.value, 0),
    groupCommits: () => hub.metrics.groupCommits(),
    restartBroker: () => hub.restartBroker(),
    close: async () => {
      await hub.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
