// The hub anchors its epochs by itself: `startHub` with an RPC endpoint, a key file and a TallyAnchor
// address publishes each closed epoch's root on an in-process EVM node (Hardhat's EDR behind a real
// HTTP JSON-RPC endpoint), stores where, puts it into the bundle (format 3), and `tally-hub verify
// --anchor-rpc` confirms it on chain. A bundle without an anchor, or with another epoch's, fails; a
// hub restarted with an epoch pending (the chain was down) anchors it from the store.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateKeyToAddress } from 'viem/accounts';
import { deployAnchorContract, type Deployment } from '../../hub/anchor/client.js';
import { writeAnchorKey } from '../../hub/anchor/key-file.js';
import type { HubHandle } from '../../hub/server.js';
import { EvmNode, TEST_KEYS } from '../../support/evm-node.js';
import { waitFor } from '../../support/test-hub.js';
import { readyDevice, type TestDevice } from '../hub/helpers/device.js';
import { tempDir, testHub } from '../hub/helpers/hub.js';
import { runHubCli } from '../hub/helpers/hub-cli.js';

const FAST = { pollMs: 5, rebroadcastAfterMs: 50, retry: { minMs: 5, maxMs: 50, maxAttempts: 5 } };

const cli = runHubCli;

describe('the hub anchors its epochs (EDR in process)', () => {
  const tmp = tempDir('tally-anchor-hub-');
  let node: EvmNode;
  let deployment: Deployment;
  let hub: HubHandle | undefined;
  let device: TestDevice | undefined;
  const keyFile = join(tmp.dir, 'anchor.key');
  const data = join(tmp.dir, 'data');

  beforeAll(async () => {
    node = await EvmNode.start(TEST_KEYS.map((k) => privateKeyToAddress(k)));
    deployment = await deployAnchorContract(node.url, TEST_KEYS[0], FAST);
    writeAnchorKey(keyFile, TEST_KEYS[1]);
  });
  afterAll(async () => {
    await device?.disconnect();
    await hub?.close();
    await node?.close();
    tmp.cleanup();
  });

  const start = () =>
    testHub(data, {
      anchorRpc: node.url,
      anchorKeyFile: keyFile,
      anchorContract: deployment.contract,
      anchorPublishOptions: FAST,
      // The restart below must not wait out a long backoff.
    } as Parameters<typeof testHub>[1]);
  const status = () => hub!.core.ledger.anchorStatus();
  // /metrics serves the ledger's gauges from a snapshot at most 1 s old: wait for the value.
  const metricBecomes = (name: string, value: string) =>
    waitFor(async () => (await metric(name)) === value, `${name} ${value} in /metrics`);
  const metric = async (name: string) => {
    const text = await (await fetch(`${hub!.httpUrl}/metrics`)).text();
    return new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
  };
  const bundleFile = async (epoch: bigint, name: string, patch: (b: Record<string, unknown>) => void = () => {}) => {
    const bundle = (await hub!.core.bundle(epoch)) as unknown as Record<string, unknown>;
    patch(bundle);
    const file = join(tmp.dir, name);
    writeFileSync(file, JSON.stringify(bundle));
    return file;
  };

  it('publishes a closed epoch, stores the proof, and the bundle verifies with --anchor-rpc', async () => {
    hub = await start();
    device = await readyDevice(hub, { price: 2n, capacity: 1_000n });
    await device.publish(device.build(8));
    await device.receiptAtLeast(8n);
    const epoch = (await hub.core.settle())!;
    expect(epoch.epoch).toBe('1');
    await waitFor(async () => (await status()).lastAnchored === 1n, 'epoch 1 anchored');
    expect(await status()).toEqual({ pending: 0, lastAnchored: 1n });
    await metricBecomes('tally_anchor_pending_epochs', '0');
    await metricBecomes('tally_anchor_last_epoch', '1');
    const shown = (await hub.core.showEpoch(1n)) as { anchor: Record<string, string> };
    expect(shown.anchor).toMatchObject({ contract: deployment.contract, chainId: '31337' });

    const file = await bundleFile(1n, 'epoch-1.json');
    const ok = await cli(['verify', file, '--anchor-rpc', node.url]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/anchor confirmed: root anchored on chain 31337 in block \d+/);
    expect(ok.code).toBe(0);
    // Without --anchor-rpc the version-3 bundle verifies offline as before.
    expect((await cli(['verify', file])).code).toBe(0);
  });

  it('refuses a bundle with no anchor, or with the anchor of another epoch', async () => {
    await device!.publish(device!.build(4));
    await device!.receiptAtLeast(12n);
    // The chain goes away: epoch 2 closes but cannot be anchored yet; its bundle has no anchor.
    await node.down();
    await hub!.core.settle();
    await waitFor(async () => (await status()).pending === 1, 'epoch 2 pending');
    await metricBecomes('tally_anchor_pending_epochs', '1');
    const unanchored = await bundleFile(2n, 'epoch-2-unanchored.json');
    // Epoch 1's anchor put on epoch 2's bundle: the chain holds no root of epoch 2 in that block.
    const epoch1Anchor = ((await hub!.core.bundle(1n)) as unknown as { anchor: unknown }).anchor;
    const borrowed = await bundleFile(2n, 'epoch-2-borrowed.json', (b) => {
      b.format = 'tally-settlement-bundle/3';
      b.anchor = epoch1Anchor;
    });
    await node.up();

    const none = await cli(['verify', unanchored, '--anchor-rpc', node.url, '--json']);
    expect(none.code).toBe(1);
    const verdict = JSON.parse(none.stdout) as { valid: boolean; anchors: { code: string; detail: string }[] };
    expect(verdict.valid).toBe(false);
    expect(verdict.anchors[0]).toMatchObject({ code: 'ANCHOR_NOT_FOUND', detail: 'the bundle carries no anchor' });
    const wrong = await cli(['verify', borrowed, '--anchor-rpc', node.url]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/INVALID: anchor ANCHOR_NOT_FOUND .*no anchor of epoch 2/);
    // The anchor's transaction hash altered: the block holds the root, by another transaction.
    const altered = await bundleFile(1n, 'epoch-1-altered.json', (b) => {
      const a = b.anchor as Record<string, string>;
      a.txHash = `0x${'ab'.repeat(32)}`;
    });
    const tampered = await cli(['verify', altered, '--anchor-rpc', node.url]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain('ANCHOR_TX_MISMATCH');
    // With the chain back, the running hub anchors epoch 2 on its next round.
    await waitFor(async () => (await status()).lastAnchored === 2n, 'epoch 2 anchored once the chain is back', 60_000);
  });

  it('a hub restarted with an epoch pending anchors it from the store', async () => {
    await device!.disconnect();
    device = undefined;
    await node.down();
    await hub!.core.settle(); // epoch 3, empty: its root is the empty tree's, anchored all the same
    await waitFor(async () => (await status()).pending === 1, 'epoch 3 pending');
    await hub!.close();
    await node.up();
    hub = await start();
    expect(await status()).toEqual({ pending: 1, lastAnchored: 2n });
    await waitFor(async () => (await status()).lastAnchored === 3n, 'epoch 3 anchored after the restart', 30_000);
    expect((await status()).pending).toBe(0);
    const file = await bundleFile(3n, 'epoch-3.json');
    const ok = await cli(['verify', file, '--anchor-rpc', node.url]);
    expect(ok.stdout).toContain('anchor confirmed');
    expect(ok.code).toBe(0);
    // Epochs 2 and 3 together: the series holds and each anchor is confirmed.
    const both = await cli(['verify', await bundleFile(2n, 'e2.json'), file, '--anchor-rpc', node.url]);
    expect(both.code).toBe(0);
    expect(both.stdout.match(/anchor confirmed/g)).toHaveLength(2);
  });
});
