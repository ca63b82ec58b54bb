// The device's MQTT link keeps trying, whatever way a connection attempt fails. Some of 10,000
// simulated devices connecting at once had their connection reset by the broker host while the
// CONNECT was in flight; a device must try again, not fall silent until someone reboots it.
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { afterEach, expect, it } from 'vitest';
import { testLink } from './helpers/test-link.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

/** A TCP front that resets the first `resets` connections, as soon as they are accepted or when
 *  their CONNECT arrives, then hands the rest to a real broker. */
async function resettingBroker(
  resets: number,
  when: 'on-accept' | 'on-connect-packet',
): Promise<{ url: string; attempts: () => number }> {
  const broker = await Aedes.createBroker();
  let attempts = 0;
  const front = createServer((socket: Socket) => {
    attempts++;
    if (attempts <= resets) {
      if (when === 'on-accept') socket.resetAndDestroy();
      else socket.once('data', () => socket.resetAndDestroy());
      return;
    }
    broker.handle(socket);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => front.close(() => r()));
  });
  return { url: `mqtt://127.0.0.1:${(front.address() as AddressInfo).port}`, attempts: () => attempts };
}

it.each(['on-accept', 'on-connect-packet'] as const)('reconnects after connections reset %s', async (when) => {
  const broker = await resettingBroker(3, when);
  const link = testLink(broker.url, 'tally-test');
  closers.push(() => link.stop(false));
  const up = new Promise<void>((resolve) => link.once('up', () => resolve()));
  link.start();
  const outcome = await Promise.race([up.then(() => 'up'), new Promise((r) => setTimeout(() => r('silent'), 10_000))]);
  expect(outcome).toBe('up');
  expect(broker.attempts()).toBe(4);
});
