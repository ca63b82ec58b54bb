// Settlement epochs and offline verification of the exported bundle, over a real broker and files.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex, verifyBundle, verifyBundleSeries } from '../../protocol/index.js';
import type { HubHandle } from '../../hub/server.js';
import { readyDevice, type TestDevice } from './helpers/device.js';
import { tempDir, testHub } from './helpers/hub.js';

describe('settlement', () => {
  let tmp: ReturnType<typeof tempDir>;
  let hub: HubHandle;
  const devices: TestDevice[] = [];
  beforeEach(async () => {
    tmp = tempDir();
    hub = await testHub(tmp.dir);
  });
  afterEach(async () => {
    for (const d of devices.splice(0)) await d.disconnect();
    await hub.close();
    tmp.cleanup();
  });

  it('closes epochs with exact deltas, never pays twice, and exports bundles that verify offline', async () => {
    const a = await readyDevice(hub, { price: 3n });
    const b = await readyDevice(hub, { price: 11n, unit: 'L' });
    devices.push(a, b);
    await a.publish(a.build(10, 2n));
    await b.publish(b.build(5));
    await a.receiptAtLeast(10n);
    await b.receiptAtLeast(5n);

    const e1 = (await hub.core.settle())!;
    expect(e1.epoch).toBe('1');
    expect(e1.entryCount).toBe(2);
    expect(BigInt(e1.totalDeltaAmount)).toBe(20n * 3n + 5n * 11n);

    // Settling again with nothing new pays nothing.
    const e2 = (await hub.core.settle())!;
    expect(e2.entryCount).toBe(0);
    expect(e2.totalDeltaAmount).toBe('0');

    await a.publish(a.build(6));
    await a.receiptAtLeast(16n);
    const e3 = (await hub.core.settle())!;
    expect(e3.entryCount).toBe(1);
    expect(BigInt(e3.totalDeltaAmount)).toBe(6n * 3n);

    for (const epoch of [1n, 2n, 3n]) {
      const verdict = verifyBundle(JSON.parse(JSON.stringify(await hub.core.bundle(epoch))), {
        hubKey: hub.hubKey.publicKey,
      });
      expect(verdict.ok, verdict.ok ? '' : JSON.stringify(verdict.reasons)).toBe(true);
    }
    // Epoch 3's entry starts mid-chain: fromSeq 11, proved by the voucher before it, which the
    // device signed as the head of its first segment (bundle version 2) [P-8.5].
    const bundle3 = await hub.core.bundle(3n);
    expect(bundle3.format).toBe('tally-settlement-bundle/2');
    expect(bundle3.entries[0]!.prevSignature).toMatch(/^[0-9a-f]{128}$/);
    const v3 = verifyBundle(bundle3);
    expect(v3.ok && v3.summary.channels[0]!.fromSeq).toBe(11n);
    expect(v3.ok && v3.summary.channels[0]!.cumAmount).toBe(26n * 3n);
    expect(v3.ok && v3.summary.deltas).toBe('device-signed');

    // The three epochs together: each channel's spans follow one another, nothing billed twice,
    // and from seq 1 their deltas add up to what the device signed [P-8.6].
    const bundles = [];
    for (const e of [1n, 2n, 3n]) bundles.push(JSON.parse(JSON.stringify(await hub.core.bundle(e))));
    const series = verifyBundleSeries(bundles);
    expect(series.ok, series.ok ? '' : JSON.stringify(series.reasons)).toBe(true);
    const spanA = series.ok ? series.summary.channels.find((c) => c.channelId === toHex(a.channelId!)) : undefined;
    expect(spanA).toMatchObject({ fromSeq: 1n, toSeq: 16n, units: 26n, amount: 78n, fromGenesis: true });

    const csv = (await hub.core.csv(1n)).trim().split('\n');
    expect(csv).toHaveLength(3);
    expect(
      csv
        .slice(1)
        .map((l) => l.split(',')[9])
        .sort(),
    ).toEqual(['55', '60']);
  });

  it('rejects a bundle with any single byte changed', async () => {
    const a = await readyDevice(hub, { price: 3n });
    devices.push(a);
    await a.publish(a.build(4));
    await a.receiptAtLeast(4n);
    await hub.core.settle();
    const text = JSON.stringify(await hub.core.bundle(1n));
    expect(verifyBundle(text).ok).toBe(true);
    // Flip one hex digit in each binary field in turn: every one must be caught.
    const doc = JSON.parse(text) as { epoch: Record<string, string>; entries: Record<string, string>[] };
    const fields: [Record<string, string>, string][] = [
      [doc.epoch, 'record'],
      [doc.epoch, 'signature'],
      ...(['entry', 'channelRecord', 'headVoucher', 'headSignature'] as const).map(
        (f) => [doc.entries[0]!, f] as [Record<string, string>, string],
      ),
    ];
    for (const [obj, field] of fields) {
      const original = obj[field]!;
      const i = Math.floor(original.length / 2);
      obj[field] = original.slice(0, i) + (original[i] === '0' ? '1' : '0') + original.slice(i + 1);
      expect(verifyBundle(JSON.stringify(doc)).ok, field).toBe(false);
      obj[field] = original;
    }
  });
});
