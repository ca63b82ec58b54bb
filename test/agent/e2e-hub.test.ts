// End to end: the agent against the real hub (hub/server.ts startHub, its embedded broker and its
// SQLite store). Every unit the meter counted is received exactly once, across a hub restart and
// an exhausted channel.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type HubHandle } from '../../hub/server.js';
import { AgentFixture } from './helpers/agent-fixture.js';
import { waitFor } from '../../support/test-hub.js';

describe('agent against the real hub', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function hubAt(dataDir: string, port = 0): Promise<HubHandle> {
    const hub = await startHub({
      dataDir,
      mqttListen: `127.0.0.1:${port}`,
      http: '127.0.0.1:0',
      credentialWindowMs: 600_000,
    });
    cleanups.push(() => hub.close());
    return hub;
  }
  const channelOf = (hub: HubHandle, dev: AgentFixture) => hub.core.showDevice(dev.deviceHex).channelDetails[0]!;
  const asAgentHub = (hub: HubHandle) => ({ url: hub.mqttUrl, keyPair: hub.hubKey });

  it('enrols on the hub, streams, survives a hub restart, and the hub holds every unit once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-e2e-hub-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    let hub = await hubAt(dataDir);
    const port = hub.mqttAddress!.port;
    const dev = new AgentFixture();
    cleanups.push(() => dev.cleanup());
    await hub.core.enrol([{ publicKey: dev.deviceHex, unit: 'Wh', pricePerUnit: 3n, capacity: 1_000_000n }]);
    dev.setCounter(0n);
    const agent = dev.start(asAgentHub(hub));
    await waitFor(() => agent.snapshot().channel !== undefined, 'grant from the real hub');
    dev.setCounter(300n);
    await waitFor(() => channelOf(hub, dev).head.cumUnits === '300', '300 units at the hub');

    await hub.close();
    dev.setCounter(700n); // metered while the hub is down
    await waitFor(() => agent.snapshot().channel?.cumUnits === 700n, 'committed while the hub is down');
    hub = await hubAt(dataDir, port);
    dev.setCounter(900n);
    await waitFor(() => channelOf(hub, dev).head.cumUnits === '900', '900 units after the restart', 30_000);
    await waitFor(() => agent.snapshot().outboxDepth === 0, 'outbox drained by receipts');

    const ch = channelOf(hub, dev);
    expect(ch.head.seq).toBe('900');
    expect(ch.head.cumAmount).toBe('2700');
    expect(ch.equivocated).toBe(false);
    expect((await hub.core.showChannel(ch.channelId)).equivocations).toEqual([]);
    expect(agent.snapshot().ackedUnits).toBe(900n);
    expect(Buffer.from(dev.store!.load().receipt!.headHash).toString('hex')).toBe(ch.head.hash);
  });

  it('stops at capacity on the real hub and resumes after its top-up', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tally-e2e-hub-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const hub = await hubAt(dataDir);
    const dev = new AgentFixture();
    cleanups.push(() => dev.cleanup());
    const [enrolled] = await hub.core.enrol([
      { publicKey: dev.deviceHex, unit: 'L', pricePerUnit: 10n, capacity: 250n },
    ]);
    dev.setCounter(0n);
    const agent = dev.start(asAgentHub(hub));
    await waitFor(() => agent.snapshot().channel !== undefined, 'grant');
    dev.setCounter(40n);
    await waitFor(() => channelOf(hub, dev).head.cumUnits === '25', '25 units (the capacity)');
    await waitFor(() => agent.snapshot().exhausted && agent.snapshot().pendingUnits === 15n, 'exhausted, 15 held');
    await hub.core.topup(enrolled!.channel.channelId, 1000n);
    await waitFor(() => channelOf(hub, dev).head.cumUnits === '40', 'all 40 after the top-up');
    expect(dev.codes()).toEqual(expect.arrayContaining(['CHANNEL_EXHAUSTED', 'CHANNEL_RESUMED']));
    expect(channelOf(hub, dev).equivocated).toBe(false);
  });
});
