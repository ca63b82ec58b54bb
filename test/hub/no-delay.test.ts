// Nagle's algorithm is off on every MQTT connection Tally accepts or opens. A receipt follows the
// PUBACK of the segment it answers by a few milliseconds; with Nagle on it waited for the device's
// delayed ACK of that PUBACK (40 ms on Linux), which was most of sign -> receipt on an idle hub
// (p50 43 ms -> 7 ms for 1,000 simulated devices). Which sockets had setNoDelay(true) called is
// recorded; latency itself is measured by the simulator, not asserted here.
import net, { type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { testLink } from '../agent/helpers/test-link.js';
import { startEmbeddedBroker } from '../../hub/broker/embedded.js';
import { connectLink } from '../../hub/broker/link.js';
import { generateKeyPair } from '../../protocol/index.js';
import { waitFor } from '../../support/test-hub.js';

const noDelay = new Set<net.Socket>();
const original = net.Socket.prototype.setNoDelay;
beforeAll(() => {
  vi.spyOn(net.Socket.prototype, 'setNoDelay').mockImplementation(function (this: net.Socket, on?: boolean) {
    if (on !== false) noDelay.add(this);
    return original.call(this, on);
  });
});
afterAll(() => vi.restoreAllMocks());

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

/** A plain aedes on a loopback port, for the clients under test to connect to. */
async function plainBroker(): Promise<number> {
  const broker = await Aedes.createBroker();
  const server = net.createServer((s) => broker.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

const clientSocketTo = (port: number) => [...noDelay].some((s) => s.remotePort === port);
const serverSocketOn = (port: number) => [...noDelay].some((s) => s.localPort === port && s.remotePort !== port);

it('the embedded broker turns Nagle off on each connection it accepts', async () => {
  const hub = generateKeyPair();
  const broker = await startEmbeddedBroker({
    listen: { host: '127.0.0.1', port: 0 },
    policy: {
      hubKey: hub.publicKey,
      brokerSecret: 'secret',
      credentialWindowMs: 60_000,
      deviceStatus: () => undefined,
      credentialUsed: () => undefined,
    },
    events: {
      onReject: () => undefined,
      onDeviceSubscribed: () => undefined,
      onDeviceConnected: () => undefined,
      onDeviceDisconnected: () => undefined,
      onUplink: () => undefined,
    },
  });
  closers.push(() => broker.close());
  const socket = net.connect(broker.address.port, '127.0.0.1');
  socket.on('error', () => undefined);
  closers.push(async () => void socket.destroy());
  await waitFor(() => serverSocketOn(broker.address.port), 'the accepted socket', 5_000);
  expect(serverSocketOn(broker.address.port)).toBe(true);
});

it("the device's link turns Nagle off on its connection", async () => {
  const port = await plainBroker();
  const link = testLink(`mqtt://127.0.0.1:${port}`, 'tally-no-delay');
  closers.push(() => link.stop(false));
  const up = new Promise<void>((resolve) => link.once('up', () => resolve()));
  link.start();
  await up;
  expect(clientSocketTo(port)).toBe(true);
});

it("the hub's link to an external broker turns Nagle off on its connection", async () => {
  const port = await plainBroker();
  const link = await connectLink({
    url: `mqtt://127.0.0.1:${port}`,
    clientId: 'tally-hub-no-delay',
    onMessage: () => undefined,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as never,
  });
  closers.push(() => link.close());
  expect(clientSocketTo(port)).toBe(true);
});
