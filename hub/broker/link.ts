// The hub's MQTT client (MQTT.js) for an external broker; the embedded one is reached in-process
// (embedded.ts). It subscribes at QoS 1 to the uplinks of the partitions the hub owns [P-6.1,
// P-6.7] and publishes receipts and control messages at QoS 1 to each device's downlink. The owned
// set can change at run time (partitions.add/remove): with several hubs on one broker each takes
// its share of the fleet. Several broker URLs (a clustered broker's nodes) are tried in turn.

import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  HUB_UPLINK_FILTER,
  isPartition,
  LEGACY_UPLINK_FILTER,
  PARTITION_COUNT,
  parseTopic,
  partitionUplinkFilter,
} from '../../protocol/index.js';
import type { BrokerTls } from '../base/config.js';
import { downlinkVia, type Downlink } from '../model/downlink.js';

export interface LinkOptions {
  /** One broker URL, or several (the nodes of a clustered broker), comma-separated. */
  url: string;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  tls?: BrokerTls;
  /** The partitions owned from the start [P-6.7]; default all of them. */
  partitions?: readonly number[];
  onMessage(topic: string, payload: Uint8Array): void;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/** The partitions whose uplinks reach this hub [P-6.7]. */
export interface Partitions {
  /** Owned partitions, ascending. */
  owned(): number[];
  has(partition: number): boolean;
  /** Starts taking the partition's uplinks; resolves once the broker has granted the subscription. */
  add(partition: number): Promise<void>;
  /** Stops at once (uplinks of the partition still arriving are dropped from this call on);
   *  resolves once the broker has confirmed the unsubscription. */
  remove(partition: number): Promise<void>;
  /** Uplinks dropped because their partition was not owned when they arrived. */
  readonly dropped: number;
}

export interface HubLink extends Downlink {
  readonly client: MqttClient;
  readonly partitions: Partitions;
  close(): Promise<void>;
}

/** `mqtt://a:1883,mqtt://b:1883` -> MQTT.js servers, tried in turn on each reconnect. */
export function brokerServers(url: string): { host: string; port: number; protocol: 'mqtt' | 'mqtts' }[] {
  return url.split(',').map((u) => {
    const parsed = new URL(u.trim());
    const protocol = parsed.protocol === 'mqtts:' ? 'mqtts' : 'mqtt';
    const port = parsed.port ? Number(parsed.port) : protocol === 'mqtts' ? 8883 : 1883;
    return { host: parsed.hostname, port, protocol };
  });
}

/**
 * The filters that cover a set of partitions: while it owns them all, the hub uses the wildcard and
 * also takes topic layout 1 (agents without the partition level); otherwise one filter per
 * partition, and layout-1 uplinks, which name no partition on the wire, are left to a hub that owns
 * everything.
 */
export function filtersFor(owned: ReadonlySet<number>): string[] {
  if (owned.size === PARTITION_COUNT) return [HUB_UPLINK_FILTER, LEGACY_UPLINK_FILTER];
  return [...owned].sort((a, b) => a - b).map(partitionUplinkFilter);
}

export async function connectLink(o: LinkOptions): Promise<HubLink> {
  const servers = brokerServers(o.url);
  const first = servers[0]!;
  const options: IClientOptions = {
    clientId: o.clientId,
    protocolVersion: 4,
    // A persistent session: an external broker keeps uplinks queued while the hub restarts.
    clean: false,
    keepalive: 30,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    // MQTT.js moves to the next server at each reconnect: a dead node is left for a live one.
    ...(servers.length > 1 ? { servers } : {}),
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
  };
  if (o.tls) {
    if (o.tls.ca) options.ca = readFileSync(o.tls.ca);
    if (o.tls.cert) options.cert = readFileSync(o.tls.cert);
    if (o.tls.key) options.key = readFileSync(o.tls.key);
    options.rejectUnauthorized = o.tls.rejectUnauthorized;
  }
  const owned = new Set<number>();
  for (const p of o.partitions ?? Array.from({ length: PARTITION_COUNT }, (_, i) => i)) {
    if (!isPartition(p)) throw new RangeError(`not a partition: ${String(p)}`);
    owned.add(p);
  }
  let dropped = 0;
  // What the broker was last asked to deliver; changes go through one queue, so a remove that
  // follows an add is never overtaken by it.
  let subscribed = new Set<string>();
  let queue: Promise<void> = Promise.resolve();

  const client = mqtt.connect(`${first.protocol}://${first.host}:${first.port}`, options);

  client.on('message', (topic, payload) => {
    // A partition given up is dropped here at once, even while its UNSUBACK is on the way: its new
    // owner has its own subscription. Anything that is not a Tally uplink goes on to ingest, which
    // counts it (HUB_UNEXPECTED_TOPIC).
    const parsed = parseTopic(topic);
    if (parsed && !owned.has(parsed.partition)) {
      dropped++;
      return;
    }
    if (parsed?.layout === 'legacy' && owned.size !== PARTITION_COUNT) {
      dropped++;
      return;
    }
    o.onMessage(topic, payload);
  });
  client.on('error', (err) => o.log('warn', `mqtt: ${err.message}`));
  client.on('offline', () => o.log('warn', 'mqtt: broker connection lost, reconnecting'));

  /** Brings the broker's subscriptions in line with `owned`: new filters first, then the stale
   *  ones go, so a partition never has a moment without a subscription while it stays owned. */
  const reconcile = async (): Promise<void> => {
    const want = filtersFor(owned);
    const add = want.filter((f) => !subscribed.has(f));
    const drop = [...subscribed].filter((f) => !want.includes(f));
    if (add.length > 0) await client.subscribeAsync(add, { qos: 1 });
    if (drop.length > 0) await client.unsubscribeAsync(drop);
    subscribed = new Set(want);
  };
  const enqueue = (job: () => Promise<void>): Promise<void> => {
    const next = queue.then(job);
    queue = next.catch(() => undefined);
    return next;
  };

  // Subscribe again on every (re)connect to a broker that lost the session (a fresh node, a broker
  // restarted without persistence): it must not leave us deaf.
  client.on('connect', (ack) => {
    if (ack.sessionPresent) return;
    subscribed = new Set();
    enqueue(reconcile).catch((err: Error) => o.log('error', `mqtt: subscribe failed: ${err.message}`));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      client.end(true);
      reject(new Error(`cannot connect to broker ${o.url}: ${err.message}`));
    };
    client.once('error', onError);
    client.once('connect', () => {
      client.off('error', onError);
      resolve();
    });
  });
  // Wait for the SUBACK, so that a caller who starts devices right after start() loses nothing.
  subscribed = new Set();
  await enqueue(reconcile);

  const partitions: Partitions = {
    owned: () => [...owned].sort((a, b) => a - b),
    has: (p) => owned.has(p),
    add: (p) => {
      if (!isPartition(p)) return Promise.reject(new RangeError(`not a partition: ${String(p)}`));
      owned.add(p);
      return enqueue(reconcile);
    },
    remove: (p) => {
      if (!isPartition(p)) return Promise.reject(new RangeError(`not a partition: ${String(p)}`));
      owned.delete(p);
      return enqueue(reconcile);
    },
    get dropped() {
      return dropped;
    },
  };

  const publish = (topic: string, bytes: Uint8Array) => {
    client.publish(topic, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { qos: 1 }, (err) => {
      if (err) o.log('warn', `mqtt: publish ${topic} failed: ${err.message}`);
    });
  };
  return {
    client,
    partitions,
    ...downlinkVia(publish),
    close: () => new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
  };
}
