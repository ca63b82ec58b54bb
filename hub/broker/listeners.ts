// The embedded broker's listeners besides plain MQTT: MQTT over TLS (mqtts, port 8883 by custom),
// and MQTT over WebSocket, plain or over TLS (ws, wss), as Mosquitto and EMQX offer them. Each
// admits a connection (pending caps, connect rate per source address: guard.ts) on its raw TCP
// socket, before any TLS or WebSocket handshake is paid for, then hands the decrypted byte stream
// to the same frame scanner and aedes as a plain connection (embedded.ts).

import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { HostPort } from '../base/config.js';
import { MAX_BYTES_BEFORE_AUTH, MAX_PACKET_BYTES } from './guard.js';

export type ListenerKind = 'mqtt' | 'mqtts' | 'ws' | 'wss';

export interface ListenerSpec {
  kind: Exclude<ListenerKind, 'mqtt'>;
  listen: HostPort;
}

export interface BrokerListener {
  kind: ListenerKind;
  address: HostPort;
  url: string;
}

/** PEM text. With `ca`, a client must present a certificate that chains to it. */
export interface ServerTls {
  cert: string;
  key: string;
  ca?: string;
}

interface Handlers {
  /** The broker's admission for a new connection from `address`; undefined = refused (counted). */
  admit(address: string): { settle: () => void } | undefined;
  /** A connection's MQTT byte stream, admitted. */
  onStream(stream: Duplex, settle: () => void): void;
}

/** As aedes' connectTimeout: a handshake that takes longer is an attack or a broken client. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The largest WebSocket message accepted. ws buffers a message whole before it is passed on, so
 *  this bounds what a connection holds beyond the frame scanner's view: the largest MQTT packet,
 *  plus what a client may send before its CONNACK, in case both arrive in one message. */
export const MAX_WS_MESSAGE_BYTES = MAX_PACKET_BYTES + MAX_BYTES_BEFORE_AUTH;

const peer = (s: Socket): string => `${s.remoteAddress ?? 'unknown'}|${s.remotePort ?? 0}`;

function secureOptions(tls: ServerTls) {
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.2' as const,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
  };
}

export async function openListener(
  spec: ListenerSpec,
  tls: ServerTls | undefined,
  handlers: Handlers,
): Promise<{ listener: BrokerListener; close: () => Promise<void> }> {
  if ((spec.kind === 'mqtts' || spec.kind === 'wss') && !tls) throw new Error(`${spec.kind} needs a certificate`);
  // Admissions by TCP peer (address and port): the raw socket is admitted, the TLS socket or the
  // WebSocket that rides it later finds its admission here.
  const admitted = new Map<string, () => void>();
  const open = new Set<Socket>();
  const onRaw = (raw: Socket): void => {
    const a = handlers.admit(raw.remoteAddress ?? 'unknown');
    if (!a) {
      raw.destroy();
      return;
    }
    // TLS and WebSocket ride this socket: Nagle off for them too (embedded.ts says why).
    raw.setNoDelay(true);
    const key = peer(raw);
    admitted.set(key, a.settle);
    open.add(raw);
    raw.once('close', () => {
      a.settle();
      admitted.delete(key);
      open.delete(raw);
    });
  };
  const settleOf = (s: Socket): (() => void) | undefined => admitted.get(peer(s));

  let server: Server;
  let wss: WebSocketServer | undefined;
  if (spec.kind === 'mqtts') {
    const t = createTlsServer(secureOptions(tls!), (socket: TLSSocket) => {
      const settle = settleOf(socket);
      if (settle) handlers.onStream(socket, settle);
      else socket.destroy();
    });
    // A failed handshake (no or a wrong client certificate, a port scan) is not worth a log line;
    // the socket is closed and its admission released.
    t.on('tlsClientError', () => undefined);
    server = t;
  } else {
    const web: HttpServer =
      spec.kind === 'wss' ? createHttpsServer(secureOptions(tls!)) : createHttpServer({ requestTimeout: 10_000 });
    wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_MESSAGE_BYTES });
    const sockets = wss;
    web.on('request', (_req, res) => {
      res.writeHead(426, { connection: 'close', 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
    });
    web.on('tlsClientError', () => undefined);
    web.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const settle = settleOf(req.socket);
      if (!settle) return socket.destroy();
      sockets.handleUpgrade(req, socket, head, (ws) => {
        const stream = createWebSocketStream(ws);
        // A protocol error (a message over maxPayload) closes the WebSocket and the stream.
        stream.on('error', () => stream.destroy());
        handlers.onStream(stream, settle);
      });
    });
    server = web;
  }
  // Prepended: the admission runs before the TLS or HTTP server takes the socket, so a refused one
  // is closed before any handshake is paid for.
  server.prependListener('connection', onRaw);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.listen.port, spec.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    listener: { kind: spec.kind, address, url: `${spec.kind}://${host}:${address.port}` },
    close: async () => {
      for (const client of wss?.clients ?? []) client.terminate();
      wss?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Handshakes in progress and idle WebSocket carriers would hold close() open.
        for (const raw of open) raw.destroy();
      });
    },
  };
}
