// A hub as one member of a cluster [DESIGN: ownership]: the hubs share one PostgreSQL database and
// one broker, and each serves the partitions [P-6.7] whose leases it holds (hub/cluster/leases.ts).
//
//   gained p: the devices of p are loaded from the database (heads as committed, by whichever hub
//             committed them), then the broker link subscribes to p's uplinks;
//   lost p:   the link stops taking p's uplinks and p's uncommitted state is dropped at once, before
//             another hub can take the lease (the local deadline falls before the database's
//             expiry); the devices re-send whatever never got a receipt;
//   commit:   every group commit transaction first checks, and row-locks FOR SHARE, the leases of
//             the partitions it writes with the tokens this hub holds (hub/store/fence.ts): a hub
//             that still believes it owns a device after a takeover writes nothing and
//             acknowledges nothing.

import pg from 'pg';
import { partitionOf, PARTITION_COUNT } from '../../protocol/index.js';
import type { Partitions } from '../broker/link.js';
import type { HubCore } from '../core/hub-core.js';
import { checkFence, LeaseLostError } from '../store/fence.js';
import type { PgTransaction } from '../store/postgres/store.js';
import type { CommitBatch } from '../store/types.js';
import { LeaseManager, type LossReason } from './leases.js';
import { batchedLoad } from './batched-load.js';
import { Ownership } from './ownership.js';
import type { HubLog } from '../base/log-codes.js';
import { ControlRouter } from './control.js';
import { ControlListener, notifyControl } from '../store/control-notify.js';
import { withSettlementLock } from '../store/settle-lock.js';

export interface ClusterMemberOptions {
  /** The cluster's PostgreSQL database (the hub's --store). */
  store: { url: string; password: string | undefined };
  hubId: string;
  leaseMs: number;
  log: HubLog;
  /** Observers (tests, the simulator): a partition gained or lost, with its token or reason. */
  onGained?: (partition: number, token: bigint) => void;
  onLost?: (partition: number, reason: LossReason) => void;
}

export class ClusterMember {
  readonly leases: LeaseManager;
  private readonly pool: pg.Pool;
  private core: HubCore | undefined;
  private ownership: Ownership | undefined;
  private listener: ControlListener | undefined;

  constructor(private readonly options: ClusterMemberOptions) {
    // The leases' own connections: a renewal must never queue behind a slow group commit.
    this.pool = new pg.Pool({ ...this.connection(), max: 3, connectionTimeoutMillis: 5_000 });
    this.pool.on('error', () => undefined);
    this.leases = new LeaseManager(this.pool, {
      hubId: options.hubId,
      partitions: PARTITION_COUNT,
      leaseMs: options.leaseMs,
      onGain: (p, token) => this.ownership!.leaseCallbacks.onGain(p, token),
      onLose: (p, reason) => this.ownership!.leaseCallbacks.onLose(p, reason),
      beforeRelease: () => this.core?.flush() ?? Promise.resolve(),
      // Gains and losses are logged by the events below; what reaches here is trouble.
      log: (level, message) => {
        if (level !== 'info') options.log.event('LEASE_PROBLEM', { detail: message });
      },
    });
  }

  /** Connection settings of the cluster's database (the password apart from the URL). */
  private connection(): pg.PoolConfig {
    const { url, password } = this.options.store;
    return { connectionString: url, ...(password !== undefined ? { password } : {}) };
  }

  private listenerConnection(): { connectionString: string; password?: string } {
    const { url, password } = this.options.store;
    return { connectionString: url, ...(password !== undefined ? { password } : {}) };
  }

  /**
   * The store's beforeCommit: the fence. Every partition the batch writes must be held (locally,
   * within its deadline) and still be this hub's with the same token in the database.
   */
  readonly fence = async (tx: PgTransaction, batch: CommitBatch): Promise<void> => {
    const core = this.core;
    if (!core) throw new LeaseLostError([]);
    const parts = new Set<number>();
    const add = (channelId: Uint8Array) => {
      const ch = core.fleet.channels.get(Buffer.from(channelId).toString('hex'));
      // A channel the hub does not know cannot be written by a hub that owns its device.
      if (!ch) throw new Error(`commit names an unknown channel ${Buffer.from(channelId).toString('hex')}`);
      parts.add(partitionOf(ch.deviceKey));
    };
    for (const s of batch.segments) add(s.channelId);
    for (const h of batch.heads) add(h.channelId);
    for (const e of batch.equivocations) add(e.channelId);
    for (const id of batch.equivocatedChannels) add(id);
    const claim = this.leases.claim(parts);
    if (!claim) throw new LeaseLostError([...parts].filter((p) => !this.leases.holds(p)));
    await checkFence(tx as pg.PoolClient, claim);
  };

  /** Starts taking leases: the core serves only what they cover from here on. */
  async start(core: HubCore, link: Partitions): Promise<void> {
    this.core = core;
    const inPartition = (p: number) => (hex: string) => partitionOf(hex) === p;
    const load = batchedLoad((partitions) => core.loadDevices({ partitions }));
    this.ownership = new Ownership(
      partitionOf,
      link,
      {
        load,
        drop: (p) => {
          core.dropDevices(inPartition(p));
        },
      },
      {
        gained: (p, token) => {
          const devices = core.resyncDevices(inPartition(p));
          this.options.log.event('PARTITION_GAINED', { partition: p, token: token.toString(), devices });
          this.options.onGained?.(p, token);
        },
        lost: (p, reason) => {
          const given = reason === 'released' || reason === 'stopped';
          this.options.log.event(given ? 'PARTITION_RELEASED' : 'PARTITION_LOST', { partition: p, reason });
          this.options.onLost?.(p, reason);
        },
      },
    );
    this.ownership.attach(this.leases);
    core.setOwnership((hex) => this.leases.holds(partitionOf(hex)), {
      changed: (change) => notifyControl(this.pool, change),
      settling: (wait, task) => withSettlementLock(this.pool, wait, task),
    });
    // The control plane: a management write on any hub reaches the device's owner, which applies
    // it from the database and sends the device its controls at once.
    const router = new ControlRouter(
      (key) => this.leases.holds(partitionOf(key)),
      {
        reloadDevice: (hex) => core.applyStored(hex, false),
        reloadChannel: (_id, hex) => core.applyStored(hex, true),
        reloadOwned: async () => {
          for (const d of [...core.fleet.devices.keys()]) if (this.owns(d)) await core.applyStored(d, false);
        },
      },
      (_level, message) => this.options.log.event('CONTROL_NOT_APPLIED', { detail: message }),
    );
    this.listener = new ControlListener({
      ...this.listenerConnection(),
      onChange: (change) => void router.onChange(change),
      onResync: () => void router.onResync(),
      onInvalid: (payload) =>
        this.options.log.event('CONTROL_LISTEN_PROBLEM', { detail: `not understood: ${payload.slice(0, 200)}` }),
      log: (_level, message) => this.options.log.event('CONTROL_LISTEN_PROBLEM', { detail: message }),
    });
    await this.listener.start();
    // The link starts with no partition: the leases add them one by one.
    for (const p of link.owned()) await link.remove(p);
    this.options.log.event('CLUSTER_JOINED', { hubId: this.options.hubId, leaseMs: this.options.leaseMs });
    await this.leases.start();
  }

  /** True while this hub owns the device's partition. */
  owns(deviceHex: string): boolean {
    return this.leases.holds(partitionOf(deviceHex));
  }

  /** Flushes, gives every lease back and leaves the cluster (a clean stop). */
  async stop(): Promise<void> {
    await this.listener?.stop();
    await this.leases.stop();
    await this.pool.end().catch(() => undefined);
  }
}
