// The hub's MQTT client (MQTT.js) for an external broker; the embedded one is reached in-process
// (embedded.ts). It subscribes to every device uplink at QoS 1 [P-6.1] and publishes
// receipts and control messages at QoS 1 to each device's downlink.

import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { HUB_UPLINK_FILTER } from '../../protocol/index.js';
import type { BrokerTls } from '../base/config.js';
import { downlinkVia, type Downlink } from '../model/downlink.js';
import type { HubLog } from '../base/log-codes.js';

export interface LinkOptions {
  url: string;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  tls?: BrokerTls;
  onMessage(topic: string, payload: Uint8Array): void;
  log: HubLog;
}

export interface HubLink extends Downlink {
  readonly client: MqttClient;
  close(): Promise<void>;
}

export async function connectLink(o: LinkOptions): Promise<HubLink> {
  const options: IClientOptions = {
    clientId: o.clientId,
    protocolVersion: 4,
    // A persistent session: an external broker keeps uplinks queued while the hub restarts.
    clean: false,
    keepalive: 30,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
  };
  if (o.tls) {
    if (o.tls.ca) options.ca = readFileSync(o.tls.ca);
    if (o.tls.cert) options.cert = readFileSync(o.tls.cert);
    if (o.tls.key) options.key = readFileSync(o.tls.key);
    options.rejectUnauthorized = o.tls.rejectUnauthorized;
  }
  const client = mqtt.connect(o.url, options);

  client.on('message', (topic, payload) => o.onMessage(topic, payload));
  client.on('error', (err) => o.log.event('BROKER_LINK_ERROR', { broker: o.url, error: err.message }));
  client.on('offline', () => o.log.event('BROKER_LINK_LOST', { broker: o.url }));
  // Subscribe on every (re)connect: a broker that lost the session must not leave us deaf.
  client.on('connect', (ack) => {
    if (ack.sessionPresent) return;
    client.subscribe(HUB_UPLINK_FILTER, { qos: 1 }, (err) => {
      if (err) o.log.event('BROKER_SUBSCRIBE_FAILED', { filter: HUB_UPLINK_FILTER, error: err.message });
    });
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
  await client.subscribeAsync(HUB_UPLINK_FILTER, { qos: 1 });

  const publish = (topic: string, bytes: Uint8Array) => {
    client.publish(topic, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { qos: 1 }, (err) => {
      if (err) o.log.event('BROKER_PUBLISH_FAILED', { topic, error: err.message });
    });
  };
  return {
    client,
    ...downlinkVia(publish),
    close: () => new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
  };
}
