// A device restored from an old backup of its outbox: it no longer knows the vouchers it signed
// after the backup, signs different ones for the same seqs, and sends them. The hub must detect
// the equivocation (evidence kept, channel flagged) and count nothing twice: the first chain stays
// the only one counted.
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentFixture } from '../agent/helpers/agent-fixture.js';
import { waitFor } from '../../support/test-hub.js';
import { tempDir, testHub } from '../hub/helpers/hub.js';
import { recorder } from './helpers/record.js';

const rec = recorder('agent-restore');

describe('an agent restored from an old backup', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('is caught equivocating, and nothing is counted twice', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const hub = await testHub(tmp.dir, { credentialWindowMs: 600_000 });
    cleanups.push(() => hub.close());
    const dev = new AgentFixture();
    cleanups.push(() => dev.cleanup());
    await hub.core.enrol([{ publicKey: dev.deviceHex, unit: 'Wh', pricePerUnit: 2n, capacity: 10n ** 12n }]);
    const toHub = { url: hub.mqttUrl, keyPair: hub.hubKey };
    const acked = (units: bigint) =>
      waitFor(
        () => dev.agent!.snapshot().ackedUnits === units && dev.agent!.snapshot().outboxDepth === 0,
        `${units} units acknowledged`,
      );

    dev.setCounter(0n);
    dev.start(toHub);
    await waitFor(() => dev.agent!.snapshot().channel !== undefined, 'grant');
    dev.setCounter(100n);
    await acked(100n);
    await dev.stop();
    const backup = `${dev.dbPath}.backup`;
    copyFileSync(dev.dbPath, backup); // closed cleanly: the WAL is checkpointed into the file

    dev.start(toHub);
    dev.setCounter(300n);
    await acked(300n);
    await dev.stop();
    const channelId = hub.core.fleet.currentChannel(dev.deviceHex)!.idHex;
    const before = await hub.core.showChannel(channelId);

    // Restore the old backup and let the device meter offline first, so it signs seqs 101.. anew.
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(dev.dbPath + suffix)) rmSync(dev.dbPath + suffix);
    copyFileSync(backup, dev.dbPath);
    dev.start({ url: 'mqtt://127.0.0.1:1', keyPair: hub.hubKey }, { reconnectMinMs: 1000, reconnectMaxMs: 1000 });
    dev.setCounter(400n);
    await waitFor(() => dev.agent!.snapshot().channel?.cumUnits === 400n, 'the restored device signs offline');
    const restoredSignedFrom = 101n;
    await dev.stop();
    dev.start(toHub);
    await waitFor(
      async () => (await hub.core.showChannel(channelId)).equivocations.length > 0,
      'equivocation evidence at the hub',
    );
    // Without a receipt the device re-sends the same window on every receipt timeout: each copy is
    // refused again, but the evidence is not stored again.
    const refusals = async () =>
      (await hub.core.ledger.rejectionCounts()).find((c) => c.reason === 'EQUIVOCATION')?.events ?? 0n;
    await hub.core.flush();
    const firstRefusals = await refusals();
    const firstEvidence = (await hub.core.showChannel(channelId)).equivocations.length;
    await waitFor(
      async () => {
        await hub.core.flush();
        return (await refusals()) >= 2n * firstRefusals + 1n;
      },
      're-sent conflicting segments',
      30_000,
    );
    await dev.stop();
    await hub.core.flush();

    const after = await hub.core.showChannel(channelId);
    expect(after.equivocated).toBe(true);
    expect(after.equivocations.length).toBe(firstEvidence);
    expect(BigInt(after.equivocations[0]!.seq)).toBeGreaterThanOrEqual(restoredSignedFrom);
    // Counted once: the hub's total is the first chain's, never the sum of both.
    expect(after.head.cumUnits).toBe(before.head.cumUnits);
    expect(BigInt(after.head.cumUnits)).toBeLessThanOrEqual(400n);
    const settled = (await hub.core.settle())!;
    expect(BigInt(settled.totalDeltaAmount)).toBe(BigInt(after.head.cumAmount));
    rec.record({
      case: 'agent restored from an old backup signs the same seqs again',
      expected:
        'EQUIVOCATION evidence kept once per conflicting segment however often re-sent, channel flagged; the first chain alone is counted and settled',
      observed: `backup at 100 units, original reached ${before.head.cumUnits}; restored device re-signed seqs ${restoredSignedFrom}-400; hub: ${await refusals()} EQUIVOCATION refusals (re-sends included), ${after.equivocations.length} evidence row(s) from seq ${after.equivocations[0]!.seq}, flagged ${after.equivocated}, head ${after.head.cumUnits} units, settled ${settled.totalDeltaAmount}`,
      figures: {
        duplicated: `${BigInt(after.head.cumUnits) > 300n ? BigInt(after.head.cumUnits) - 300n : 0n}`,
        rejected: after.equivocations.length,
      },
    });
  });
});
