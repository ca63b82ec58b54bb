// What a hub in a cluster does when its leases change, in the order that keeps the ledger safe:
//
//   gained p: load p's devices and channels from the database (heads as committed, whoever
//             committed them), THEN subscribe to p's uplinks, so no segment meets a stale head;
//   lost p:   unsubscribe from p's uplinks and drop p's live state at once, so nothing more is
//             acknowledged for it; whatever was gathered but not committed is left to the device,
//             which re-sends what never got a receipt.
//
// The broker side (a partitioned topic layout, run-time add/remove of partition subscriptions) and
// the device -> partition function come from outside through the two small interfaces below.

import type { FenceClaim } from '../store/fence.js';
import type { LeaseManager, LossReason } from './leases.js';

/** The broker link's per-partition subscriptions (partitions.add/remove on the hub's link). */
export interface PartitionSet {
  add(partition: number): void | Promise<void>;
  remove(partition: number): void | Promise<void>;
}

/** The hub's live state, per partition. */
export interface PartitionState {
  /** Loads the partition's devices and channels from the store (replacing anything held). */
  load(partition: number): Promise<void>;
  /** Forgets the partition's devices and channels: pending segments, reorder buffers, receipts. */
  drop(partition: number): void;
}

/** device key -> partition (one protocol/ function shared with the agent). */
export type PartitionOf = (deviceKey: Uint8Array) => number;

export interface OwnershipEvents {
  gained?: (partition: number, token: bigint) => void;
  lost?: (partition: number, reason: LossReason) => void;
}

/**
 * Glue between LeaseManager and the hub: pass `ownership.leaseCallbacks` into the LeaseManager's
 * options, then ask `owns()` before acknowledging and `claimFor()` for each commit's fence.
 */
export class Ownership {
  private leases: LeaseManager | undefined;

  constructor(
    private readonly partitionOf: PartitionOf,
    private readonly subscriptions: PartitionSet,
    private readonly state: PartitionState,
    private readonly events: OwnershipEvents = {},
  ) {}

  attach(leases: LeaseManager): void {
    this.leases = leases;
  }

  readonly leaseCallbacks = {
    onGain: async (partition: number, token: bigint): Promise<void> => {
      await this.state.load(partition);
      await this.subscriptions.add(partition);
      this.events.gained?.(partition, token);
    },
    onLose: (partition: number, reason: LossReason): void => {
      // Synchronous up to the drop: from here on nothing of p is acknowledged. The unsubscribe
      // finishes in the background; what still arrives meanwhile finds no live state and no lease.
      void Promise.resolve(this.subscriptions.remove(partition)).catch(() => {});
      this.state.drop(partition);
      this.events.lost?.(partition, reason);
    },
  };

  /** True while this hub may accept and acknowledge the device's uplinks. */
  owns(deviceKey: Uint8Array): boolean {
    return this.leases?.holds(this.partitionOf(deviceKey)) ?? false;
  }

  /**
   * The fence claim for a commit that writes these devices' rows. Partitions no longer held are
   * listed apart: their rows must be left out of the commit and nothing of them acknowledged.
   */
  claimFor(deviceKeys: Iterable<Uint8Array>): { claim: FenceClaim; notHeld: number[] } {
    const parts = new Set<number>();
    for (const k of deviceKeys) parts.add(this.partitionOf(k));
    const held = [...parts].filter((p) => this.leases?.holds(p) ?? false);
    const notHeld = [...parts].filter((p) => !held.includes(p));
    const claim = this.leases?.claim(held) ?? { hubId: '', leases: [] };
    return { claim, notHeld };
  }
}
