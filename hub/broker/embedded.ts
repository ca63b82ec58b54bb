// The embedded MQTT broker: aedes on node:net, with the access rules of access.ts in its hooks.
// A site needs nothing else. Devices connect over TCP as they would to Mosquitto or EMQX; the hub
// in the same process does not. It subscribes to the uplinks inside aedes and publishes receipts
// and control messages straight into it. A loopback MQTT client cost the hub's single thread a
// second encode, parse, PUBACK and in-flight record for every message in each direction; dropping
// it raised one-signature ingest from 8,571-9,168 to 11,976-13,053 vouchers/s on 2 cores
// (bench/hub-ingest.ts, interleaved runs; docs/hub.md). Delivery guarantees do not change: a
// device holds a voucher until a receipt covers it, and a receipt still leaves only after the
// commit that holds its segments.

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import { HUB_UPLINK_FILTER, LEGACY_UPLINK_FILTER } from '../../protocol/index.js';
import { DEFAULTS, type HostPort } from '../base/config.js';
import {
  authenticate,
  mayPublish,
  maySubscribe,
  type AccessPolicy,
  type BrokerRefusal,
  type Session,
} from './access.js';
import { ConnectAdmission, DEFAULT_FRAME_LIMITS, FrameScanner, type AdmissionLimits } from './guard.js';
import { openListener, type BrokerListener, type ListenerSpec, type ServerTls } from './listeners.js';

export type { BrokerListener, ListenerSpec, ServerTls };

export interface BrokerEvents {
  /** A connection, packet, publish or subscribe refused, with its reason. */
  onReject(reason: BrokerRefusal, deviceHex: string | null, detail: string | undefined): void;
  /** A device subscribed inside its downlink subtree: it can now receive a GRANT [P-7.1]. */
  onDeviceSubscribed(deviceHex: string): void;
  onDeviceConnected(deviceHex: string): void;
  onDeviceDisconnected(deviceHex: string): void;
  /** A message a device was allowed to publish on its uplink subtree (device status last wills
   *  included), in the order the broker accepted it. */
  onUplink(topic: string, payload: Uint8Array): void;
  /** The listening socket failed after it opened (EMFILE or ENFILE on accept, most likely). */
  onServerError?(err: Error): void;
}

export interface EmbeddedBroker {
  /** The plain MQTT listener (the first of `listeners`). */
  readonly address: HostPort;
  readonly url: string;
  /** Every listener: plain MQTT, then MQTT over TLS and WebSocket as configured. */
  readonly listeners: readonly BrokerListener[];
  /** Publishes to a device's downlink at QoS 1, as the hub (no access check applies). */
  publish(topic: string, payload: Uint8Array): void;
  /** Closes a device's connection (after revocation). */
  disconnectDevice(deviceHex: string): void;
  close(): Promise<void>;
}

const STATUS_TOPIC = /^tally\/v1\/d\/[0-9a-f]{64}\/up\/status$/;

export const BROKER_OPTIONS = {
  // Device client ids are 70 characters (tally- + 64 hex) [P-6.2]; MQTT 3.1.0 capped ids at 23.
  maxClientsIdLength: 128,
  connectTimeout: 10_000,
  drainTimeout: 30_000,
  // No in-flight limit in aedes' message emitter. With a limit, publishes beyond it queue, and
  // the queue is drained by synchronous recursion, one stack frame per queued message: a burst of
  // a few thousand devices publishing and disconnecting at once overflowed the stack and killed
  // the hub (mqemitter issue #204, still open; reproduced in test/hub/broker-burst.test.ts).
  concurrency: 0,
  heartbeatInterval: 60_000,
} as const;

/** How long close() waits for the hub's own publishes to be written out. */
const CLOSE_DRAIN_MS = 5_000;

function inflightCounter() {
  let count = 0;
  let waiters: (() => void)[] = [];
  return {
    started: () => void count++,
    finished() {
      if (--count > 0) return;
      for (const w of waiters) w();
      waiters = [];
    },
    drained(timeoutMs: number): Promise<void> {
      if (count === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** What the broker knows of a connection before aedes does. */
interface Guarded {
  scanner: FrameScanner;
  /** Leaves the admission's pending count (authenticated or closed). */
  settle: () => void;
  deviceHex: string | null;
}

export async function startEmbeddedBroker(args: {
  /** The plain MQTT listener. */
  listen: HostPort;
  /** More listeners: mqtts, ws, wss. The same admission and frame limits apply to each. */
  listeners?: readonly ListenerSpec[];
  /** Certificate and key (and a CA that client certificates must chain to) for mqtts and wss. */
  tls?: ServerTls;
  policy: AccessPolicy;
  events: BrokerEvents;
  /** Defaults as in hub/config.ts. */
  admission?: AdmissionLimits;
  now?: () => number;
}): Promise<EmbeddedBroker> {
  const { policy, events } = args;
  const now = args.now ?? Date.now;
  const sessions = new WeakMap<Client, Session>();
  const guarded = new WeakMap<object, Guarded>();
  // Rates are real time, whatever clock the hub runs on.
  const admission = new ConnectAdmission(
    args.admission ?? {
      maxPending: DEFAULTS.mqttMaxPending,
      maxPendingPerAddress: DEFAULTS.mqttMaxPendingPerAddress,
      connectsPerSecond: DEFAULTS.mqttConnectsPerSecond,
    },
  );

  const broker = await Aedes.createBroker(BROKER_OPTIONS);

  broker.authenticate = (client, username, password, done) => {
    const result = authenticate(policy, client.id, username, password, now());
    if (!result.ok) {
      events.onReject(result.reason, /^[0-9a-f]{64}$/.test(username ?? '') ? username! : null, result.detail);
      const error = Object.assign(new Error(result.reason), {
        // 2 identifier rejected, 4 bad user name or password, 5 not authorized (unknown, revoked,
        // expired or replayed credential).
        returnCode: result.reason === 'HUB_CLIENT_ID' ? 2 : result.reason === 'HUB_CREDENTIAL_INVALID' ? 4 : 5,
      });
      done(error as Parameters<typeof done>[0], false);
      return;
    }
    sessions.set(client, result.session);
    if (result.session.role === 'device' && result.issuedAtMs !== undefined) {
      policy.credentialUsed(result.session.deviceHex, result.issuedAtMs);
    }
    const g = guarded.get(client.conn);
    if (g) {
      g.scanner.authenticate();
      g.settle();
      g.deviceHex = result.session.role === 'device' ? result.session.deviceHex : null;
    }
    done(null, true);
  };

  broker.authorizePublish = (client, packet, callback) => {
    if (client === null) {
      // An orphaned last will from a session that ended: only a device status may go through.
      callback(STATUS_TOPIC.test(packet.topic) ? null : new Error('HUB_TOPIC_DENIED'));
      return;
    }
    const session = sessions.get(client);
    if (!session || !mayPublish(session, packet.topic)) {
      events.onReject(
        'HUB_TOPIC_DENIED',
        session?.role === 'device' ? session.deviceHex : null,
        `publish ${packet.topic.slice(0, 120)}`,
      );
      callback(new Error('HUB_TOPIC_DENIED'));
      return;
    }
    if (session.role === 'device' && policy.deviceStatus(session.deviceHex)?.revoked !== false) {
      // Revoked (or removed) since it connected: refuse, which also closes the connection.
      events.onReject('HUB_DEVICE_REVOKED', session.deviceHex, undefined);
      callback(new Error('HUB_DEVICE_REVOKED'));
      return;
    }
    packet.retain = false; // [P-6.1] no Tally message is retained
    callback(null);
  };

  broker.authorizeSubscribe = (client, subscription, callback) => {
    const session = sessions.get(client);
    if (!session || !maySubscribe(session, subscription.topic)) {
      events.onReject(
        'HUB_TOPIC_DENIED',
        session?.role === 'device' ? session.deviceHex : null,
        `subscribe ${subscription.topic.slice(0, 120)}`,
      );
      callback(null, null); // a negative SUBACK, the connection stays
      return;
    }
    callback(null, subscription);
  };

  broker.on('subscribe', (subscriptions, client) => {
    const session = client && sessions.get(client);
    if (session?.role === 'device') events.onDeviceSubscribed(session.deviceHex);
  });
  // A device is connected while an authenticated socket of its is open, whatever order aedes
  // emits its events in: a client that drops before its CONNACK can reach 'clientReady' after
  // 'clientDisconnect' (the CONNACK is written, then the close finishes first), which left the
  // device counted as connected for good. So the state follows the socket's own 'close'.
  const current = new Map<string, Client>();
  broker.on('clientReady', (client) => {
    const session = sessions.get(client);
    if (session?.role !== 'device' || client.closed || client.conn.destroyed) return;
    const deviceHex = session.deviceHex;
    current.set(deviceHex, client);
    events.onDeviceConnected(deviceHex);
    client.conn.once('close', () => {
      // A session taken over by a newer one of the same device leaves the newer one connected.
      if (current.get(deviceHex) !== client) return;
      current.delete(deviceHex);
      events.onDeviceDisconnected(deviceHex);
    });
  });

  // Registered before the listener opens, so no uplink can arrive unheard. The embedded broker
  // serves one hub, which owns every partition: both topic layouts [P-6.7].
  for (const filter of [HUB_UPLINK_FILTER, LEGACY_UPLINK_FILTER]) {
    await new Promise<void>((resolve) =>
      broker.subscribe(
        filter,
        (packet, done) => {
          // done() always runs: without it aedes would never PUBACK this device's message.
          try {
            events.onUplink(packet.topic, packet.payload as Buffer);
          } finally {
            done();
          }
        },
        () => resolve(),
      ),
    );
  }

  /**
   * Admission first (pending connections and connect rate per address), then every byte aedes
   * reads passes the frame scanner: aedes reads with `stream.read()` on 'readable', so wrapping
   * read() sees each chunk before mqtt-packet buffers it, without a stream in between on the hot
   * path. A packet over the limit closes the connection at its fixed header. Every listener hands
   * its connections here: a TCP or TLS socket, or a WebSocket's byte stream (listeners.ts admits
   * those before their TLS or WebSocket handshake and passes the admission on).
   */
  const admit = (address: string): { settle: () => void } | undefined => {
    const admitted = admission.admit(address);
    if (admitted.ok) return admitted;
    events.onReject(admitted.reason, null, admitted.detail);
    return undefined;
  };
  const onStream = (stream: Duplex, settle: () => void): void => {
    const g: Guarded = { scanner: new FrameScanner(DEFAULT_FRAME_LIMITS), settle, deviceHex: null };
    guarded.set(stream, g);
    stream.once('close', settle);
    const read = stream.read.bind(stream);
    stream.read = (size?: number) => {
      const chunk = read(size) as Buffer | null;
      if (chunk === null || stream.destroyed) return stream.destroyed ? null : chunk;
      const refused = g.scanner.push(chunk);
      if (refused === undefined) return chunk;
      events.onReject('HUB_PACKET_TOO_LARGE', g.deviceHex, refused);
      stream.destroy();
      return null;
    };
    broker.handle(stream as Socket);
  };
  const onConnection = (socket: Socket): void => {
    const admitted = admit(socket.remoteAddress ?? 'unknown');
    if (!admitted) {
      socket.destroy();
      return;
    }
    // A receipt is a small write that follows the PUBACK of the segment it answers. With Nagle's
    // algorithm on, it waits for the device to acknowledge that PUBACK, which the device's TCP
    // delays by up to 40 ms (delayed ACK): most of sign -> receipt on an idle hub.
    socket.setNoDelay(true);
    onStream(socket, admitted.settle);
  };

  const outgoing = inflightCounter();
  const server: Server = createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(args.listen.port, args.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Without a listener, an accept error after listen() (EMFILE) would be thrown and end the hub.
  server.on('error', (err) => events.onServerError?.(err));
  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  const hostForUrl = address.host.includes(':') ? `[${address.host}]` : address.host;
  const listeners: BrokerListener[] = [{ kind: 'mqtt', address, url: `mqtt://${hostForUrl}:${address.port}` }];
  const closers: (() => Promise<void>)[] = [];
  try {
    for (const spec of args.listeners ?? []) {
      const opened = await openListener(spec, args.tls, { admit, onStream });
      listeners.push(opened.listener);
      closers.push(opened.close);
    }
  } catch (err) {
    for (const close of closers) await close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw err;
  }

  return {
    address,
    url: listeners[0]!.url,
    listeners,
    publish(topic, payload) {
      if (broker.closed) return;
      const packet = {
        cmd: 'publish',
        topic,
        payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        qos: 1,
        retain: false,
        dup: false,
      } as const;
      outgoing.started();
      // aedes calls back once the message is written to every subscriber (or failed because the
      // broker is closing: the device then re-sends and is acknowledged again [P-5.3]).
      broker.publish(packet as Parameters<Aedes['publish']>[0], () => outgoing.finished());
    },
    disconnectDevice(deviceHex) {
      const clients = (broker as unknown as { clients: Record<string, Client> }).clients;
      clients[`tally-${deviceHex}`]?.close();
    },
    async close() {
      // The last receipts of a clean stop are on their way: let them reach the sockets first.
      await outgoing.drained(CLOSE_DRAIN_MS);
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const close of closers) await close();
    },
  };
}
