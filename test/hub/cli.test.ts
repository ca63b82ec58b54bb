// The tally-hub CLI as a real process: init, management commands that go through the API of a
// running hub (so its memory stays right), the same commands on a stopped hub, and `verify`
// exit codes (0 valid, 1 invalid, 2 unreadable).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPair, toHex } from '../../protocol/index.js';
import type { HubHandle } from '../../hub/server.js';
import { TestDevice } from './helpers/device.js';
import { tempDir, testHub } from './helpers/hub.js';
import { runHubCli } from './helpers/hub-cli.js';

const cli = runHubCli;

describe('tally-hub CLI', () => {
  const tmp = tempDir();
  const data = join(tmp.dir, 'data');
  let hub: HubHandle | undefined;
  let device: TestDevice | undefined;
  afterAll(async () => {
    await device?.disconnect();
    await hub?.close();
    tmp.cleanup();
  });

  it('init prints the hub key and admin token, and is idempotent', async () => {
    const first = await cli(['init', '--data', data, '--json', '--network', 'cli-net']);
    expect(first.code).toBe(0);
    const out = JSON.parse(first.stdout) as { publicKey: string; adminToken: string; network: string };
    expect(out.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(out.adminToken.length).toBeGreaterThan(20);
    const again = JSON.parse((await cli(['init', '--data', data, '--json'])).stdout) as typeof out;
    expect(again.publicKey).toBe(out.publicKey);
    expect(again.network).toBe('cli-net');
  });

  it('refuses a start option out of range with exit code 2, before touching the data dir', async () => {
    const fresh = join(tmp.dir, 'never-created');
    const bad = await cli([
      'start',
      '--data',
      fresh,
      '--verify-workers',
      'two',
      '--http',
      '127.0.0.1:0',
      '--mqtt-listen',
      '127.0.0.1:0',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--verify-workers must be a whole number');
    expect(existsSync(fresh)).toBe(false);
  });

  it('manages a running hub through its API, and settles, exports and verifies', async () => {
    hub = await testHub(data, { network: 'cli-net' });
    const key = generateKeyPair();
    const add = await cli([
      'device',
      'add',
      '--data',
      data,
      '--json',
      '--public-key',
      toHex(key.publicKey),
      '--unit',
      'kWh',
      '--price',
      '250',
      '--capacity',
      '1000000',
    ]);
    expect(add.code, add.stderr).toBe(0);
    // The running hub knows the device at once: no restart, no stale memory.
    expect(hub.core.fleet.devices.has(toHex(key.publicKey))).toBe(true);

    device = new TestDevice(hub, key);
    await device.connect();
    await device.publish(device.build(12));
    await device.receiptAtLeast(12n);

    const small = await cli([
      'device',
      'add',
      '--data',
      data,
      '--public-key',
      '00'.repeat(32),
      '--unit',
      'Wh',
      '--price',
      '1',
      '--capacity',
      '5',
    ]);
    expect(small.code).toBe(1);
    expect(small.stderr).toContain('KEY_SMALL_ORDER');

    const settle = await cli(['settle', '--data', data, '--json']);
    expect(settle.code, settle.stderr).toBe(0);
    const epoch = JSON.parse(settle.stdout) as { epoch: string; totalDeltaAmount: string };
    expect(epoch.totalDeltaAmount).toBe(String(12 * 250));

    const bundle = join(tmp.dir, 'bundle.json');
    expect((await cli(['export', epoch.epoch, '--data', data, '--out', bundle])).code).toBe(0);
    const csv = join(tmp.dir, 'epoch.csv');
    expect((await cli(['export', epoch.epoch, '--data', data, '--out', csv, '--format', 'csv'])).code).toBe(0);
    expect(readFileSync(csv, 'utf8')).toContain(',3000,');

    const ok = await cli(['verify', bundle]);
    expect(ok.code, ok.stdout).toBe(0);
    const text = readFileSync(bundle, 'utf8');
    const doc = JSON.parse(text) as { entries: { headVoucher: string }[] };
    const v = doc.entries[0]!.headVoucher;
    doc.entries[0]!.headVoucher = v.slice(0, 100) + (v[100] === 'a' ? 'b' : 'a') + v.slice(101);
    const tampered = join(tmp.dir, 'tampered.json');
    writeFileSync(tampered, JSON.stringify(doc));
    const bad = await cli(['verify', tampered]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('INVALID');
    const junk = join(tmp.dir, 'junk.json');
    writeFileSync(junk, text.slice(0, 40));
    expect((await cli(['verify', junk])).code).toBe(2);

    const closed = new Promise<void>((r) => device!.client!.once('close', () => r()));
    expect((await cli(['device', 'revoke', toHex(key.publicKey), '--data', data])).code).toBe(0);
    await closed;
    expect(hub.core.fleet.devices.get(toHex(key.publicKey))!.revoked).toBe(true);
    // Ten CLI processes, each compiling the CLI with tsx: about a minute on a busy 2-core machine.
  }, 180_000);

  it('works on the database directly when no hub runs', async () => {
    await device?.disconnect();
    device = undefined;
    await hub!.close();
    hub = undefined;
    const list = await cli(['channel', 'list', '--data', data, '--json']);
    expect(list.code, list.stderr).toBe(0);
    const channels = JSON.parse(list.stdout) as { state: string; head: { seq: string } }[];
    expect(channels).toHaveLength(1);
    expect(channels[0]!.state).toBe('revoked');
    expect(channels[0]!.head.seq).toBe('12');
    const stats = JSON.parse((await cli(['stats', '--data', data, '--json'])).stdout) as {
      acceptedAmount: string;
      settledAmount: string;
    };
    expect(stats).toMatchObject({ acceptedAmount: '3000', settledAmount: '3000' });
  });
});
