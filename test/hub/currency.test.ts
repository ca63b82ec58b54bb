// A version-2 channel end to end [P-3.1]: opened with the CLI in EUR at exponent 6 from a decimal
// price, streamed by the real agent over the hub's embedded broker into real SQLite, settled,
// exported as CSV and bundle, and verified offline, with every amount shown exactly in its currency.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub } from '../../hub/server.js';
import { verifyFiles } from '../../verifier/verify-file.js';
import { waitFor } from '../../support/test-hub.js';
import { AgentFixture } from '../agent/helpers/agent-fixture.js';
import { tempDir } from './helpers/hub.js';
import { runHubCli } from './helpers/hub-cli.js';

const cli = runHubCli;

describe('a channel in EUR at exponent 6', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('is opened from a decimal price, streams, settles, exports and verifies with its currency', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const data = join(tmp.dir, 'data');
    expect((await cli(['init', '--data', data, '--network', 'eur-net'])).code).toBe(0);
    const dev = new AgentFixture();
    cleanups.push(() => dev.cleanup());

    // EUR 0.30 per kWh is EUR 0.0003 per Wh: 300 micro-euros, converted exactly.
    const added = await cli([
      ...['device', 'add', '--data', data, '--json', '--public-key', dev.deviceHex, '--unit', 'Wh'],
      ...['--currency', 'EUR', '--price', '0.0003', '--capacity', '1.5'],
    ]);
    expect(added.stderr).toBe('');
    const view = JSON.parse(added.stdout).channel;
    expect(view).toMatchObject({
      recordVersion: 2,
      currency: 'EUR',
      exponent: 6,
      pricePerUnit: '300',
      capacity: '1500000',
      money: { pricePerUnit: '0.000300 EUR', capacity: '1.500000 EUR' },
    });

    // Not a whole number of micro-euros: refused with the reason, nothing enrolled.
    const other = new AgentFixture();
    cleanups.push(() => other.cleanup());
    const inexact = await cli([
      ...['device', 'add', '--data', data, '--public-key', other.deviceHex, '--unit', 'Wh'],
      ...['--currency', 'EUR', '--price', '0.0000003', '--capacity', '1'],
    ]);
    expect(inexact.code).toBe(1);
    expect(inexact.stderr).toMatch(/API_INVALID: .*pricePerUnit: 0\.0000003 is not exact at exponent 6/);
    const unknown = await cli([
      ...['device', 'add', '--data', data, '--public-key', other.deviceHex, '--unit', 'Wh'],
      ...['--currency', 'ERU', '--price', '1', '--capacity', '1'],
    ]);
    expect(unknown.stderr).toMatch(/ERU is not an ISO 4217 currency code/);

    const hub = await startHub({
      dataDir: data,
      mqttListen: '127.0.0.1:0',
      http: '127.0.0.1:0',
      credentialWindowMs: 600_000,
    });
    cleanups.push(() => hub.close());
    expect(hub.core.listDevices()).toHaveLength(1);
    dev.setCounter(0n);
    const agent = dev.start({ url: hub.mqttUrl, keyPair: hub.hubKey });
    await waitFor(() => agent.snapshot().channel !== undefined, 'the version-2 grant accepted by the agent');
    dev.setCounter(1000n);
    await waitFor(() => agent.snapshot().ackedUnits === 1000n, '1000 Wh receipted');
    expect(dev.codes()).toContain('CHANNEL_GRANTED');

    const ch = await hub.core.showChannel(view.channelId);
    expect(ch.head.cumAmount).toBe('300000');
    expect(ch.money.headAmount).toBe('0.300000 EUR');
    expect(ch.money.remaining).toBe('1.200000 EUR');

    const epoch = (await hub.core.settle())!;
    expect(epoch.totalDeltaAmount).toBe('300000');
    const [header, line] = (await hub.core.csv(BigInt(epoch.epoch))).trim().split('\n');
    const row = Object.fromEntries(header!.split(',').map((k, i) => [k, line!.split(',')[i]]));
    expect(row).toMatchObject({
      delta_amount: '300000',
      currency: 'EUR',
      exponent: '6',
      price_per_unit_decimal: '0.000300',
      delta_amount_decimal: '0.300000',
      cum_amount_decimal: '0.300000',
    });

    const file = join(tmp.dir, 'epoch.json');
    writeFileSync(file, JSON.stringify(await hub.core.bundle(BigInt(epoch.epoch))));
    const text = verifyFiles([file], { hubKey: hub.publicKeyHex }, 'tally-verify');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('delta of these entries: 0.300000 EUR');
    expect(text.stdout).toContain('seq 1..');
    expect(text.stdout).toContain('+1000 Wh = +0.300000 EUR (cum 0.300000 EUR)');
    const json = JSON.parse(verifyFiles([file], { json: true }, 'tally-verify').stdout);
    expect(json.summary.channels[0]).toMatchObject({ currency: 'EUR', exponent: 6, deltaAmount: '300000' });
  });
});
