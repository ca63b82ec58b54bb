// MQTT topic names and client ids [P-6.1, P-6.2, P-6.7]. One subtree per device, named by its public
// key in lowercase hex, so a broker ACL can confine each device to its own topics. Uplinks carry the
// device's partition as a topic level (`tally/v1/p/{p}/d/{dev}/up/...`), so a hub that owns some
// partitions subscribes to those and to nothing else; downlinks stay `tally/v1/d/{dev}/down/...`.
// The uplink layout without the partition level (topic layout 1) is still parsed: a hub that owns
// every partition accepts it from agents that predate the partition level.

import { isPartition, partitionOf } from './partition.js';

const DEVICE_HEX = /^[0-9a-f]{64}$/;
const ROOT = 'tally/v1/d';
const PARTITIONED_ROOT = 'tally/v1/p';

export type TopicKind = 'seg' | 'status' | 'receipt' | 'ctl';

function checkedDevice(devHex: string): string {
  if (typeof devHex !== 'string' || !DEVICE_HEX.test(devHex)) {
    throw new TypeError('a device is named by its public key in 64 lowercase hex characters');
  }
  return devHex;
}

const up = (devHex: string, kind: 'seg' | 'status'): string => {
  const dev = checkedDevice(devHex);
  return `${PARTITIONED_ROOT}/${partitionOf(dev)}/d/${dev}/up/${kind}`;
};

/** The four topics of one device [P-6.1]: uplinks under its partition [P-6.7]. Throws a TypeError
 *  on a malformed device hex. */
export const topics = Object.freeze({
  segment: (devHex: string): string => up(devHex, 'seg'),
  status: (devHex: string): string => up(devHex, 'status'),
  receipt: (devHex: string): string => `${ROOT}/${checkedDevice(devHex)}/down/receipt`,
  control: (devHex: string): string => `${ROOT}/${checkedDevice(devHex)}/down/ctl`,
});

/** The uplink topics of topic layout 1 (no partition level), as agents before [P-6.7] publish. */
export const legacyTopics = Object.freeze({
  segment: (devHex: string): string => `${ROOT}/${checkedDevice(devHex)}/up/seg`,
  status: (devHex: string): string => `${ROOT}/${checkedDevice(devHex)}/up/status`,
});

/** Every device's uplinks in the partitioned layout [P-6.7]. */
export const HUB_UPLINK_FILTER = `${PARTITIONED_ROOT}/+/d/+/up/#`;

/** Every device's uplinks in topic layout 1; a hub that owns all partitions subscribes to it too. */
export const LEGACY_UPLINK_FILTER = `${ROOT}/+/up/#`;

/** The uplinks of one partition [P-6.7]. Throws a RangeError outside 0..255. */
export function partitionUplinkFilter(partition: number): string {
  if (!isPartition(partition)) throw new RangeError(`not a partition: ${String(partition)}`);
  return `${PARTITIONED_ROOT}/${partition}/d/+/up/#`;
}

/** The ACL patterns of one device: where it may publish and what it may subscribe to [P-6.1]. */
export function deviceAcl(devHex: string): { publish: string; subscribe: string } {
  const dev = checkedDevice(devHex);
  return { publish: `${PARTITIONED_ROOT}/${partitionOf(dev)}/d/${dev}/up/#`, subscribe: `${ROOT}/${dev}/down/#` };
}

const DIRECTION: Record<TopicKind, 'up' | 'down'> = { seg: 'up', status: 'up', receipt: 'down', ctl: 'down' };
const PARTITION_TEXT = /^(0|[1-9][0-9]{0,2})$/;

export interface ParsedTopic {
  deviceHex: string;
  kind: TopicKind;
  /** The device's partition [P-6.7], whichever layout the topic used. */
  partition: number;
  /** `partitioned` (tally/v1/p/{p}/d/{dev}/up/...) or `legacy` (layout 1, and every downlink). */
  layout: 'partitioned' | 'legacy';
}

/**
 * The device, kind and partition of a Tally topic, or undefined for anything else (untrusted
 * input). A partitioned topic must name the device's own partition in canonical decimal: one device
 * has exactly one uplink topic per kind [P-6.7].
 */
export function parseTopic(topic: string): ParsedTopic | undefined {
  if (typeof topic !== 'string') return undefined;
  const parts = topic.split('/');
  let deviceHex: string;
  let direction: string;
  let kind: string;
  let layout: ParsedTopic['layout'];
  let named: string | undefined;
  if (parts.length === 6 && `${parts[0]}/${parts[1]}/${parts[2]}` === ROOT) {
    [, , , deviceHex, direction, kind] = parts as [string, string, string, string, string, string];
    layout = 'legacy';
  } else if (parts.length === 8 && `${parts[0]}/${parts[1]}/${parts[2]}` === PARTITIONED_ROOT && parts[4] === 'd') {
    [, , , named, , deviceHex, direction, kind] = parts as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    layout = 'partitioned';
    // Only uplinks carry the partition.
    if (direction !== 'up') return undefined;
  } else {
    return undefined;
  }
  if (!DEVICE_HEX.test(deviceHex)) return undefined;
  if (!Object.hasOwn(DIRECTION, kind) || DIRECTION[kind as TopicKind] !== direction) return undefined;
  const partition = partitionOf(deviceHex);
  if (named !== undefined && (!PARTITION_TEXT.test(named) || Number(named) !== partition)) return undefined;
  return { deviceHex, kind: kind as TopicKind, partition, layout };
}

/** MQTT client id of a device: `tally-{dev}` [P-6.2]. */
export function clientIdForDevice(devHex: string): string {
  return `tally-${checkedDevice(devHex)}`;
}

/** MQTT client id of hub worker `n` of a network: `tally-hub-<network>-<n>` [P-6.2]. */
export function clientIdForHub(network: string, n: number): string {
  if (!Number.isInteger(n) || n < 0) throw new TypeError('hub worker number is a non-negative integer');
  return `tally-hub-${network}-${n}`;
}
