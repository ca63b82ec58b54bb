// `tally-hub anchor keygen | deploy | confirm` as real processes against the in-process EVM node:
// exit 0 done or confirmed, 1 refused (with its code), 2 unusable input.
import { execFile } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keccak256, type Hex } from 'viem';
import { privateKeyToAddress } from 'viem/accounts';
import { buildBundle, generateKeyPair } from '../../protocol/index.js';
import { proofToJson } from '../../hub/anchor/index.js';
import { AnchorPublisher } from '../../hub/anchor/client.js';
import { TALLY_ANCHOR_RUNTIME_CODE_HASH } from '../../hub/anchor/contract.js';
import { tempDir } from '../hub/helpers/hub.js';
import { EvmNode, TEST_KEYS } from '../../support/evm-node.js';
import { epochChain, rewritten, type TestEpoch } from './helpers/records.js';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'hub/cli.ts', 'anchor', ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('tally-hub anchor', () => {
  const tmp = tempDir();
  let node: EvmNode;
  beforeAll(async () => {
    node = await EvmNode.start(TEST_KEYS.map((k) => privateKeyToAddress(k)));
  });
  afterAll(async () => {
    await node?.close();
    tmp.cleanup();
  });

  const file = (name: string, content: string, mode = 0o600) => {
    const path = join(tmp.dir, name);
    writeFileSync(path, content, { mode });
    chmodSync(path, mode);
    return path;
  };
  const bundleFile = (name: string, epoch: TestEpoch) =>
    file(name, JSON.stringify(buildBundle({ epochRecord: epoch.bytes, epochSignature: epoch.signature, entries: [] })));

  // Each CLI run starts Node with tsx on the TypeScript sources: seconds apiece on a busy machine.
  it('keygen writes a 0600 key file, prints its address, and never overwrites one', async () => {
    const out = join(tmp.dir, 'new.key');
    const made = await cli(['keygen', '--out', out, '--json']);
    expect(made.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const key = readFileSync(out, 'utf8').trim() as Hex;
    expect(JSON.parse(made.stdout)).toEqual({ address: privateKeyToAddress(key).toLowerCase(), keyFile: out });
    const again = await cli(['keygen', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('ANCHOR_KEY_FILE');
    expect(readFileSync(out, 'utf8').trim()).toBe(key);
  }, 120_000);

  it('refuses a key file that others can read, and an RPC URL that is not http(s), with exit 2', async () => {
    const open = file('open.key', `${TEST_KEYS[0]}\n`, 0o644);
    const loose = await cli(['deploy', '--anchor-rpc', node.url, '--anchor-key', open]);
    expect(loose.code).toBe(2);
    expect(loose.stderr).toContain('ANCHOR_KEY_MODE');
    const key = file('ok.key', `${TEST_KEYS[0]}\n`);
    const badUrl = await cli(['deploy', '--anchor-rpc', 'ws://127.0.0.1:1', '--anchor-key', key]);
    expect(badUrl.code).toBe(2);
  }, 120_000);

  it('deploys the contract, and confirms an anchored bundle; a rewritten or unanchored one is refused', async () => {
    const key = file('deployer.key', `${TEST_KEYS[0]}\n`);
    const deployed = await cli(['deploy', '--anchor-rpc', node.url, '--anchor-key', key, '--json']);
    expect(deployed.code).toBe(0);
    const d = JSON.parse(deployed.stdout) as { contract: Hex; blockNumber: string; chainId: string };
    expect(d.chainId).toBe('31337');
    expect(keccak256(await node.rpc<Hex>('eth_getCode', [d.contract, 'latest']))).toBe(TALLY_ANCHOR_RUNTIME_CODE_HASH);

    const hub = generateKeyPair();
    const [first, second] = epochChain(2, hub);
    const publisher = new AnchorPublisher(
      { rpcUrl: node.url, contract: d.contract, privateKey: TEST_KEYS[0], fromBlock: BigInt(d.blockNumber) },
      { pollMs: 5 },
    );
    const [anchored] = await publisher.publishRecords([first!.bytes]);
    const proof = file('proof.json', JSON.stringify(proofToJson(anchored!.proof)));
    const confirm = (bundle: string, ...more: string[]) =>
      cli(['confirm', bundle, '--anchor-rpc', node.url, '--proof', proof, '--json', ...more]);

    const badProof = file('bad-proof.json', JSON.stringify({ ...proofToJson(anchored!.proof), blockNumber: 12 }));
    // Independent processes: run together (each starts a TypeScript toolchain).
    const [ok, tampered, unanchored, malformed] = await Promise.all([
      confirm(bundleFile('b1.json', first!), '--anchorer', anchored!.proof.anchorer),
      confirm(bundleFile('b1-rewritten.json', rewritten(first!, hub))),
      confirm(bundleFile('b2.json', second!)),
      cli(['confirm', bundleFile('b1-copy.json', first!), '--anchor-rpc', node.url, '--proof', badProof]),
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ confirmed: true, txHash: anchored!.proof.txHash });
    expect(tampered.code).toBe(1);
    expect(JSON.parse(tampered.stdout)).toMatchObject({ confirmed: false, code: 'ANCHOR_ROOT_MISMATCH' });
    expect(unanchored.code).toBe(1);
    expect(JSON.parse(unanchored.stdout)).toMatchObject({ confirmed: false, code: 'ANCHOR_NOT_FOUND' });
    expect(malformed.code).toBe(2);
    expect(malformed.stdout).toContain('ANCHOR_PROOF_INVALID');
  }, 240_000);
});
