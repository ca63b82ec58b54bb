// A cluster's shared parts for tests: a plain MQTT broker (aedes, no Tally policy: the hubs check
// topics and signatures themselves) on a free loopback port, and one data dir per hub holding the
// same hub key (support/hub-process.ts).
import { rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
export { sharedDataDirs } from '../../../simulator/hub-process.js';

export interface PlainBroker {
  url: string;
  close(): Promise<void>;
}

export async function startPlainBroker(): Promise<PlainBroker> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const removeDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });
