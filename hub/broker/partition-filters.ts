// Which MQTT filters carry the uplinks of the partitions a hub owns [P-6.7], per broker kind.

import {
  HUB_UPLINK_FILTER,
  LEGACY_UPLINK_FILTER,
  PARTITION_COUNT,
  partitionUplinkFilter,
} from '../../protocol/index.js';

/**
 * How a hub that owns some of the partitions subscribes [P-6.7]:
 * - `each`: one filter per owned partition; the broker sends only the hub's own uplinks.
 * - `wildcard`: one filter for every partition; the hub drops the uplinks of partitions it does not
 *   own as they arrive, so the broker sends every hub the whole fleet's uplinks.
 * - `auto`: `each` up to EACH_FILTER_LIMIT owned partitions, `wildcard` above.
 *
 * Why both: what a subscription costs depends on the broker. nats-server keeps each QoS 1
 * subscription of an MQTT session as a JetStream consumer replicated across the cluster; measured
 * with bench/broker-subscribe.ts on a 3-node cluster, 32 filters took 27 s and 128 took 80 s to their
 * SUBACK (1 s for the wildcard), and under load a filter can be refused. A hub that takes half the
 * fleet one filter at a time would start, or take over partitions, far too slowly. EMQX and Mosquitto
 * keep a filter as an entry in their topic tree: there `each` costs nothing and spares the broker
 * sending every uplink to every hub, so set it for them when several hubs share a big fleet
 * (docs/scale-out.md). `auto` keeps `each` where it is cheap on any broker (a few filters: a hub
 * that owns a handful of partitions or takes over one) and the wildcard where per-partition filters
 * would be slow on NATS.
 */
export type PartitionFilters = 'auto' | 'each' | 'wildcard';
export const PARTITION_FILTER_MODES: readonly PartitionFilters[] = ['auto', 'each', 'wildcard'];
export const EACH_FILTER_LIMIT = 8;

/**
 * The filters that cover a set of partitions: while it owns them all, the hub uses the wildcard and
 * also takes topic layout 1 (agents without the partition level); otherwise as `mode` says, and
 * layout-1 uplinks, which name no partition on the wire, are left to a hub that owns everything.
 */
export function filtersFor(owned: ReadonlySet<number>, mode: PartitionFilters = 'auto'): string[] {
  if (owned.size === PARTITION_COUNT) return [HUB_UPLINK_FILTER, LEGACY_UPLINK_FILTER];
  if (owned.size === 0) return [];
  if (mode === 'wildcard' || (mode === 'auto' && owned.size > EACH_FILTER_LIMIT)) return [HUB_UPLINK_FILTER];
  return [...owned].sort((a, b) => a - b).map(partitionUplinkFilter);
}
