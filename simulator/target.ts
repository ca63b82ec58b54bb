// Where the fleet sends its vouchers: an embedded hub started here (the default: nothing to
// install), or a running hub given by its broker URL, HTTP API and admin token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hexToBytes } from '../protocol/index.js';
import { startHub, type HubHandle } from '../hub/server.js';
import { HubApi } from './hub-api.js';

export interface Target {
  readonly kind: 'embedded' | 'remote' | 'cluster';
  readonly mqttUrl: string;
  readonly api: HubApi;
  readonly hubKey: Uint8Array;
  /** Restarts the embedded broker (the broker-restart fault); undefined for a remote hub. */
  readonly restartBroker: (() => Promise<void>) | undefined;
  close(): Promise<void>;
}

export interface RemoteTarget {
  brokerUrl: string;
  hubApi: string;
  adminToken: string;
}

export async function openTarget(remote: RemoteTarget | undefined): Promise<Target> {
  if (remote !== undefined) {
    const api = new HubApi(remote.hubApi, remote.adminToken);
    const info = await api.hub();
    return {
      kind: 'remote',
      mqttUrl: remote.brokerUrl,
      api,
      hubKey: hexToBytes(info.publicKey),
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
    });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    kind: 'embedded',
    mqttUrl: hub.mqttUrl,
    api: new HubApi(hub.httpUrl, hub.adminToken),
    hubKey: hub.hubKey.publicKey,
    restartBroker: () => hub.restartBroker(),
    close: async () => {
      await hub.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
