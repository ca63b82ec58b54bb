// Starts a real hub (embedded aedes on 127.0.0.1:0, HTTP on 127.0.0.1:0, SQLite in a temp dir).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HubConfigInput } from '../../../hub/base/config.js';
import { startHub, type HubHandle } from '../../../hub/server.js';

export function tempDir(prefix = 'tally-hub-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function testHub(dataDir: string, extra: HubConfigInput = {}): Promise<HubHandle> {
  return startHub({
    dataDir,
    mqttListen: '127.0.0.1:0',
    http: '127.0.0.1:0',
    network: 'test-net',
    ...extra,
  });
}
