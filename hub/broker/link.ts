// The hub's MQTT client (MQTT.js) for an external broker; the embedded one is reached in-process
// (embedded.ts). It subscribes at QoS 1 to the uplinks of the partitions the hub owns [P-6.1,
// P-6.7] and publishes receipts and control messages at QoS 1 to each device's downlink. The owned
// set can change at run time (partitions.add/remove): with several hubs on one broker each takes
// its share of the fleet. One filter per owned partition, or one wildcard with the rest dropped
// here, as partition-filters.ts decides. Several broker URLs (a clustered broker's nodes) are
// tried in turn.

import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { isPartition, PARTITION_COUNT, parseTopic } from '../../protocol/index.js';
import type { BrokerTls } from '../base/config.js';
import { downlinkVia, type Downlink } from '../model/downlink.js';
import type { HubLog } from '../base/log-codes.js';
import { filtersFor, type PartitionFilters } from './partition-filters.js';
import { setNoDelay } from '../../common/no-delay.js';

export { filtersFor };

export interface LinkOptions {
  /** One broker URL, or several (the nodes of a clustered broker), comma-separated. */
  url: string;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  tls?: BrokerTls;
  /** The partitions owned from the start [P-6.7]; default all of them. */
  partitions?: readonly number[];
  /** How to subscribe to them (filtersFor); default `auto`. */
  partitionFilters?: PartitionFilters;
  onMessage(topic: string, payload: Uint8Array): void;
  log: HubLog;
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

const SUBSCRIBE_RETRY_MS = 5_000;

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
  const mode = o.partitionFilters ?? 'auto';
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
  client.on('error', (err) => o.log.event('BROKER_LINK_ERROR', { broker: o.url, error: err.message }));
  client.on('offline', () => o.log.event('BROKER_LINK_LOST', { broker: o.url }));

  /** Brings the broker's subscriptions in line with `owned`: new filters first, then the stale
   *  ones go, so a partition never has a moment without a subscription while it stays owned. */
  const reconcile = async (): Promise<void> => {
    const want = filtersFor(owned, mode);
    const add = want.filter((f) => !subscribed.has(f));
    const drop = [...subscribed].filter((f) => !want.includes(f));
    // A SUBACK of 128 for any filter rejects (MQTT.js): `subscribed` stays as it was, and the next
    // reconcile asks again (subscribing twice to one filter is harmless [MQTT-3.8.4-3]).
    if (add.length > 0) await client.subscribeAsync(add, { qos: 1 });
    if (drop.length > 0) await client.unsubscribeAsync(drop);
    subscribed = new Set(want);
  };
  const enqueue = (job: () => Promise<void>): Promise<void> => {
    const next = queue.then(job);
    queue = next.catch(() => undefined);
    return next;
  };
  let closing = false;
  let retry: NodeJS.Timeout | undefined;
  /** A reconcile that failed is tried again while connected: a hub must not stay deaf to a
   *  partition it owns because one SUBACK refused a filter. */
  const reconcileOrRetry = (): Promise<void> => {
    const done = enqueue(reconcile);
    done.catch((err: Error) => {
      o.log.event('BROKER_SUBSCRIBE_FAILED', { filter: filtersFor(owned, mode).join(' '), error: err.message });
      if (retry === undefined && !closing) {
        retry = setTimeout(() => {
          retry = undefined;
          if (client.connected && !closing) reconcileOrRetry().catch(() => undefined);
        }, SUBSCRIBE_RETRY_MS);
        retry.unref();
      }
    });
    return done;
  };

  // Subscribe on the first connect, whatever the broker kept (a session of an earlier run may hold
  // other partitions' filters: their uplinks are dropped above), and again on every reconnect to a
  // broker that lost the session (a fresh node, a broker restarted without persistence): it must
  // not leave us deaf. Once only per connect: on NATS every filter is a replicated consumer.
  let firstConnect = true;
  let initial: Promise<void> | undefined;
  client.on('connect', (ack) => {
    setNoDelay(client);
    if (ack.sessionPresent && !firstConnect) return;
    firstConnect = false;
    subscribed = new Set();
    initial = reconcileOrRetry();
    initial.catch(() => undefined);
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
  try {
    await initial;
  } catch (err) {
    closing = true;
    clearTimeout(retry);
    client.end(true);
    throw new Error(`broker ${o.url} refused the uplink subscriptions: ${(err as Error).message}`, {
      cause: err,
    });
  }

  const partitions: Partitions = {
    owned: () => [...owned].sort((a, b) => a - b),
    has: (p) => owned.has(p),
    add: (p) => {
      if (!isPartition(p)) return Promise.reject(new RangeError(`not a partition: ${String(p)}`));
      owned.add(p);
      return reconcileOrRetry();
    },
    remove: (p) => {
      if (!isPartition(p)) return Promise.reject(new RangeError(`not a partition: ${String(p)}`));
      owned.delete(p);
      return reconcileOrRetry();
    },
    get dropped() {
      return dropped;
    },
  };

  const publish = (topic: string, bytes: Uint8Array) => {
    client.publish(topic, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { qos: 1 }, (err) => {
      if (err) o.log.event('BROKER_PUBLISH_FAILED', { topic, error: err.message });
    });
  };
  return {
    client,
    partitions,
    ...downlinkVia(publish),
    close: () => {
      closing = true;
      clearTimeout(retry);
      return new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    },
  };
}
