// A plain MQTT broker (aedes, no Tally policy: cluster hubs check topics and signatures themselves)
// on a loopback port it keeps across restarts, for the cluster tests and benchmarks.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';

export interface PlainBroker {
  url: string;
  /** Drops every connection and comes back on the same port (a broker restart). */
  restart(): Promise<void>;
  /** Closes the broker; start() brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

interface Listening {
  aedes: Aedes;
  server: Server;
  sockets: Set<Socket>;
  port: number;
}

async function listen(port: number, concurrency: number | undefined): Promise<Listening> {
  const aedes = await Aedes.createBroker(concurrency === undefined ? {} : { concurrency });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { aedes, server, sockets, port: (server.address() as AddressInfo).port };
}

/** `concurrency`: aedes's in-flight message limit (a benchmark that sends everything at once raises it). */
export async function startPlainBroker(options: { concurrency?: number } = {}): Promise<PlainBroker> {
  let current: Listening | undefined = await listen(0, options.concurrency);
  const port = current.port;
  const stop = async () => {
    const c = current;
    current = undefined;
    if (!c) return;
    // Stop accepting first: clients reconnect at once, and a connection accepted after the broker
    // closed would hold server.close() open.
    const closed = new Promise<void>((resolve) => c.server.close(() => resolve()));
    await new Promise<void>((resolve) => c.aedes.close(() => resolve()));
    for (const socket of c.sockets) socket.destroy();
    await closed;
  };
  const start = async () => {
    current ??= await listen(port, options.concurrency);
  };
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async restart() {
      await stop();
      await start();
    },
    stop,
    start,
    close: stop,
  };
}
