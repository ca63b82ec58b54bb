// MQTT topic names and client ids [P-6.1, P-6.2]. One subtree per device, named by its public key
// in lowercase hex, so a broker ACL can confine each device to its own topics.

const DEVICE_HEX = /^[0-9a-f]{64}$/;
const ROOT = 'tally/v1/d';

export type TopicKind = 'seg' | 'status' | 'receipt' | 'ctl';

function checkedDevice(devHex: string): string {
  if (typeof devHex !== 'string' || !DEVICE_HEX.test(devHex)) {
    throw new TypeError('a device is named by its public key in 64 lowercase hex characters');
  }
  return devHex;
}

/** The four topics of one device [P-6.1]. Throws a TypeError on a malformed device hex. */
export const topics = Object.freeze({
  segment: (devHex: string): string => `${ROOT}/${checkedDevice(devHex)}/up/seg`,
  status: (devHex: string): string => `${ROOT}/${checkedDevice(devHex)}/up/status`,
  receipt: (devHex: string): string => `${ROOT}/${checkedDevice(devHex)}/down/receipt`,
  control: (devHex: string): string => `${ROOT}/${checkedDevice(devHex)}/down/ctl`,
});

/** What the hub subscribes to [P-6.1]. */
export const HUB_UPLINK_FILTER = `${ROOT}/+/up/#`;

/** The ACL patterns of one device: where it may publish and what it may subscribe to [P-6.1]. */
export function deviceAcl(devHex: string): { publish: string; subscribe: string } {
  const dev = checkedDevice(devHex);
  return { publish: `${ROOT}/${dev}/up/#`, subscribe: `${ROOT}/${dev}/down/#` };
}

const DIRECTION: Record<TopicKind, 'up' | 'down'> = { seg: 'up', status: 'up', receipt: 'down', ctl: 'down' };

/** The device and kind of a Tally topic, or undefined for anything else (untrusted input). */
export function parseTopic(topic: string): { deviceHex: string; kind: TopicKind } | undefined {
  if (typeof topic !== 'string') return undefined;
  const parts = topic.split('/');
  if (parts.length !== 6 || `${parts[0]}/${parts[1]}/${parts[2]}` !== ROOT) return undefined;
  const [, , , deviceHex, direction, kind] = parts as [string, string, string, string, string, string];
  if (!DEVICE_HEX.test(deviceHex)) return undefined;
  if (!Object.hasOwn(DIRECTION, kind) || DIRECTION[kind as TopicKind] !== direction) return undefined;
  return { deviceHex, kind: kind as TopicKind };
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
