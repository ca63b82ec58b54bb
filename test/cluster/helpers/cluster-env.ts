// A cluster's shared parts for tests: a plain MQTT broker (aedes, no Tally policy: the hubs check
// topics and signatures themselves) on a free loopback port, and one data dir per hub holding the
// same hub key, as a cluster's hubs must (they sign the same channels and receipts).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { FILES, initDataDir } from '../../../hub/store/datadir.js';

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

/** `count` data dirs sharing one hub key, admin token and network; the caller removes `root`. */
export function sharedDataDirs(count: number, network = 'test-net'): { root: string; dirs: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'tally-cluster-'));
  const first = join(root, 'hub-0');
  initDataDir(first, { network });
  const dirs = [first];
  for (let i = 1; i < count; i++) {
    const dir = join(root, `hub-${i}`);
    mkdirSync(dir, { mode: 0o700 });
    for (const f of [FILES.key, FILES.adminToken, FILES.brokerSecret]) copyFileSync(join(first, f), join(dir, f));
    initDataDir(dir, { network });
    dirs.push(dir);
  }
  return { root, dirs };
}

export const removeDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });
