// Anchoring against a real EVM: Hardhat's EDR started in this process behind an HTTP JSON-RPC
// endpoint on loopback. The contract is the committed build of contracts/TallyAnchor.sol; the
// publisher and the verifier talk to the node over HTTP with viem, as they would to any chain.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPublicClient,
  decodeErrorResult,
  encodeFunctionData,
  createWalletClient,
  http,
  toHex,
  keccak256,
  parseTransaction,
  type Hex,
} from 'viem';
import { privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { hardhat } from 'viem/chains';
import { generateKeyPair } from '../../protocol/index.js';
import { AnchorError, proofToJson, targetOfRecord, type AnchorTarget } from '../../hub/anchor/index.js';
import {
  AnchorPublisher,
  confirmAnchor,
  confirmEpochRecord,
  deployAnchorContract,
  locateAnchor,
  type AnchorEvent,
  type Deployment,
  type PublishOptions,
} from '../../hub/anchor/client.js';
import { TALLY_ANCHOR_ABI, TALLY_ANCHOR_RUNTIME_CODE_HASH } from '../../hub/anchor/contract.js';
import { EvmNode, TEST_KEYS } from '../../support/evm-node.js';
import { epochChain, rewritten } from './helpers/records.js';

const FAST: PublishOptions = {
  pollMs: 5,
  rebroadcastAfterMs: 50,
  retry: { minMs: 5, maxMs: 50, maxAttempts: 50 },
};

const target = (bytes: Uint8Array): AnchorTarget => {
  const t = targetOfRecord(bytes);
  if (!t.ok) throw new Error('test record does not decode');
  return t.value;
};

describe('anchoring epoch roots on an in-process EVM node (EDR)', () => {
  let node: EvmNode;
  let deployment: Deployment;

  beforeAll(async () => {
    node = await EvmNode.start(TEST_KEYS.map((k) => privateKeyToAddress(k)));
    deployment = await deployAnchorContract(node.url, TEST_KEYS[0], FAST);
  });
  afterAll(async () => {
    await node?.close();
  });

  const publisher = (options: PublishOptions = {}, key: Hex = TEST_KEYS[0]) =>
    new AnchorPublisher(
      { rpcUrl: node.url, contract: deployment.contract, privateKey: key, fromBlock: deployment.blockNumber },
      { ...FAST, ...options },
    );
  const sends = () => node.calls.get('eth_sendRawTransaction') ?? 0;

  it('deploys TallyAnchor: the code on chain hashes to the committed runtime hash', async () => {
    expect(deployment.chainId).toBe(31337n);
    expect(deployment.deployer).toBe(privateKeyToAddress(TEST_KEYS[0]).toLowerCase());
    const code = await node.rpc<Hex>('eth_getCode', [deployment.contract, 'latest']);
    expect(keccak256(code)).toBe(TALLY_ANCHOR_RUNTIME_CODE_HASH);
  });

  it('anchors an epoch from its record bytes; the proof, through JSON, confirms it', async () => {
    const [epoch] = epochChain(1);
    const [anchored] = await publisher().publishRecords([epoch!.bytes]);
    expect(anchored!.epoch).toBe(1n);
    const json = JSON.parse(JSON.stringify(proofToJson(anchored!.proof))) as unknown;
    const verdict = await confirmEpochRecord(node.url, epoch!.bytes, json);
    expect(verdict).toMatchObject({ ok: true, confirmations: 1n });
  });

  it('a record with another root for the anchored epoch fails with ANCHOR_ROOT_MISMATCH', async () => {
    const hub = generateKeyPair();
    const [epoch] = epochChain(1, hub);
    const [anchored] = await publisher().publishRecords([epoch!.bytes]);
    const other = rewritten(epoch!, hub);
    const verdict = await confirmEpochRecord(node.url, other.bytes, proofToJson(anchored!.proof));
    expect(verdict).toMatchObject({ ok: false, code: 'ANCHOR_ROOT_MISMATCH' });
  });

  it('an epoch that was never anchored fails with ANCHOR_NOT_FOUND, with or without a proof', async () => {
    const [first, second] = epochChain(2);
    const [anchored] = await publisher().publishRecords([first!.bytes]);
    // The proof of epoch 1 presented for epoch 2, which was never anchored.
    const borrowed = await confirmEpochRecord(node.url, second!.bytes, proofToJson(anchored!.proof));
    expect(borrowed).toMatchObject({ ok: false, code: 'ANCHOR_NOT_FOUND' });
    const where = {
      contract: deployment.contract,
      anchorer: anchored!.proof.anchorer,
      fromBlock: deployment.blockNumber,
    };
    expect(await locateAnchor(node.url, target(second!.bytes), where)).toMatchObject({
      ok: false,
      code: 'ANCHOR_NOT_FOUND',
    });
    expect(await locateAnchor(node.url, target(first!.bytes), where)).toMatchObject({ ok: true });
    const future = { ...anchored!.proof, blockNumber: anchored!.proof.blockNumber + 1000n };
    expect(await confirmAnchor(node.url, target(first!.bytes), future)).toMatchObject({
      ok: false,
      code: 'ANCHOR_NOT_FOUND',
    });
  });

  it('anchors a batch of epochs in one transaction, and each epoch confirms on its own', async () => {
    const epochs = epochChain(5);
    const before = sends();
    const anchored = await publisher().publishRecords(epochs.map((e) => e.bytes));
    expect(sends() - before).toBe(1);
    expect(new Set(anchored.map((a) => a.proof.txHash)).size).toBe(1);
    for (const [i, a] of anchored.entries()) {
      expect(a.epoch).toBe(BigInt(i + 1));
      expect(await confirmEpochRecord(node.url, epochs[i]!.bytes, proofToJson(a.proof))).toMatchObject({ ok: true });
    }
  });

  it('the contract refuses a second root for an anchored epoch, a gap and an empty batch', async () => {
    const [epoch] = epochChain(1);
    const [anchored] = await publisher().publishRecords([epoch!.bytes]);
    const account = privateKeyToAccount(TEST_KEYS[0]);
    const wallet = createWalletClient({ account, chain: hardhat, transport: http(node.url) });
    const reader = createPublicClient({ chain: hardhat, transport: http(node.url) });
    const hubKey = toHex(target(epoch!.bytes).hubKey);
    const other = `0x${'ab'.repeat(32)}` as Hex;

    /** The contract's refusal: its custom error, and a mined transaction that reverted. */
    const refusal = async (first: bigint, roots: Hex[]) => {
      const call = {
        address: deployment.contract,
        abi: TALLY_ANCHOR_ABI,
        functionName: 'anchor',
        args: [hubKey, first, roots],
      } as const;
      // The custom error, from the revert data of an eth_call.
      const answer = await node.answer('eth_call', [
        { from: account.address, to: deployment.contract, data: encodeFunctionData(call) },
        'latest',
      ]);
      const data = (answer.error as { data?: { data?: Hex } } | undefined)?.data?.data;
      const error = data ? decodeErrorResult({ abi: TALLY_ANCHOR_ABI, data }) : undefined;
      // A fixed gas limit skips estimation, so the refusal also happens on chain, in a mined transaction.
      const hash = await wallet.writeContract({ ...call, gas: 200_000n });
      const receipt = await reader.getTransactionReceipt({ hash });
      return { name: error?.errorName, args: error?.args, status: receipt.status };
    };
    expect(await refusal(1n, [other])).toEqual({ name: 'EpochNotNext', args: [1n, 1n], status: 'reverted' });
    expect(await refusal(3n, [other])).toEqual({ name: 'EpochNotNext', args: [1n, 3n], status: 'reverted' });
    expect(await refusal(2n, [])).toEqual({ name: 'NoRoots', args: undefined, status: 'reverted' });
    const last = await reader.readContract({
      address: deployment.contract,
      abi: TALLY_ANCHOR_ABI,
      functionName: 'lastEpoch',
      args: [account.address, hubKey],
    });
    expect(last).toBe(1n);
    // The first root still confirms, and the epoch has exactly one anchor in the namespace.
    expect(await confirmEpochRecord(node.url, epoch!.bytes, proofToJson(anchored!.proof))).toMatchObject({ ok: true });
    const logs = await reader.getContractEvents({
      address: deployment.contract,
      abi: TALLY_ANCHOR_ABI,
      eventName: 'Anchored',
      args: { anchorer: account.address, hubKey },
      fromBlock: deployment.blockNumber,
    });
    expect(logs.map((l) => [l.args.firstEpoch, l.args.roots])).toEqual([[1n, [toHex(target(epoch!.bytes).root)]]]);
  });

  it("costs the gas docs/settlement.md quotes for a namespace's first anchor and for a later one", async () => {
    const doc = readFileSync('docs/settlement.md', 'utf8');
    const quoted = (row: string) => Number(new RegExp(`${row}\\s+1\\s+([0-9,]+)`).exec(doc)![1]!.replace(/,/g, ''));
    const gasOf = async (hash: Hex) =>
      Number(BigInt((await node.rpc<{ gasUsed: Hex }>('eth_getTransactionReceipt', [hash])).gasUsed));
    // Calldata costs more for non-zero bytes: the same byte pattern as bench/anchor-gas.ts.
    const hubKey = new Uint8Array(32).fill(0x6b);
    const root = new Uint8Array(32).fill(0xa5);
    const [first] = await publisher().publish([{ hubKey, epoch: 1n, root }]);
    const [second] = await publisher().publish([{ hubKey, epoch: 2n, root }]);
    expect(await gasOf(first!.proof.txHash)).toBe(quoted("first anchor of an account's hub key"));
    expect(await gasOf(second!.proof.txHash)).toBe(quoted('anchor 1 epoch'));
  });

  it('publishing an anchored epoch again returns its anchor and sends nothing (a retry after a crash)', async () => {
    const epochs = epochChain(3);
    const first = await publisher().publishRecords(epochs.map((e) => e.bytes));
    const before = sends();
    const events: AnchorEvent[] = [];
    const again = await publisher({ onEvent: (e) => events.push(e) }).publishRecords([epochs[1]!.bytes]);
    expect(sends()).toBe(before);
    expect(again).toEqual([first[1]]);
    expect(events).toEqual([{ type: 'found', epochs: [2n] }]);
  });

  it('refuses to publish another root for an anchored epoch (ANCHOR_CONFLICT) or a gap (ANCHOR_GAP)', async () => {
    const hub = generateKeyPair();
    const epochs = epochChain(4, hub);
    await publisher().publishRecords([epochs[0]!.bytes, epochs[1]!.bytes]);
    const before = sends();
    const conflict = publisher().publishRecords([rewritten(epochs[1]!, hub).bytes]);
    await expect(conflict).rejects.toMatchObject({ code: 'ANCHOR_CONFLICT' });
    await expect(publisher().publishRecords([epochs[3]!.bytes])).rejects.toMatchObject({ code: 'ANCHOR_GAP' });
    expect(sends()).toBe(before);
    // A batch that overlaps the anchored epochs with the same roots takes those and sends the rest.
    const overlap = await publisher().publishRecords(epochs.slice(1).map((e) => e.bytes));
    expect(overlap.map((a) => a.epoch)).toEqual([2n, 3n, 4n]);
    expect(sends() - before).toBe(1);
    await expect(conflict).rejects.toBeInstanceOf(AnchorError);
  });

  it("another account cannot squat a hub's epochs: its anchors are in its own namespace", async () => {
    const epochs = epochChain(2);
    const ours = (await publisher().publishRecords([epochs[0]!.bytes]))[0]!;
    // A stranger anchors garbage for the hub's next epoch before the hub does.
    const squatter = publisher({}, TEST_KEYS[1]);
    const garbage = { ...target(epochs[1]!.bytes), root: new Uint8Array(32).fill(0xee) };
    const squatted = (await squatter.publish([garbage]))[0]!;
    // The hub's own anchor of that epoch still goes through, and confirms.
    const next = (await publisher().publishRecords([epochs[1]!.bytes]))[0]!;
    expect(await confirmEpochRecord(node.url, epochs[1]!.bytes, proofToJson(next.proof))).toMatchObject({ ok: true });
    // The squatter's proof does not confirm the hub's root, and a verifier that pins the hub's
    // anchoring account refuses it outright.
    expect(await confirmEpochRecord(node.url, epochs[1]!.bytes, proofToJson(squatted.proof))).toMatchObject({
      ok: false,
      code: 'ANCHOR_ROOT_MISMATCH',
    });
    const pinned = await confirmAnchor(node.url, garbage, squatted.proof, {
      expect: { anchorer: ours.proof.anchorer },
    });
    expect(pinned).toMatchObject({ ok: false, code: 'ANCHOR_WRONG_NAMESPACE' });
  });

  it('keeps retrying while the node is down and anchors once it is back', async () => {
    const [epoch] = epochChain(1);
    const events: AnchorEvent[] = [];
    await node.down();
    const published = publisher({
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'retry' && e.attempt === 3) void node.up();
      },
    }).publishRecords([epoch!.bytes]);
    const [anchored] = await published;
    const retries = events.filter((e) => e.type === 'retry');
    expect(retries.length).toBeGreaterThanOrEqual(3);
    expect(events.at(-1)).toMatchObject({ type: 'mined', epochs: [1n] });
    expect(await confirmEpochRecord(node.url, epoch!.bytes, proofToJson(anchored!.proof))).toMatchObject({ ok: true });
  });

  it('retries through 503 answers from the endpoint', async () => {
    const [epoch] = epochChain(1);
    const events: AnchorEvent[] = [];
    node.unavailable(4);
    const [anchored] = await publisher({ onEvent: (e) => events.push(e) }).publishRecords([epoch!.bytes]);
    expect(events.filter((e) => e.type === 'retry').length).toBeGreaterThanOrEqual(4);
    expect(await confirmEpochRecord(node.url, epoch!.bytes, proofToJson(anchored!.proof))).toMatchObject({ ok: true });
  });

  it('broadcasts a transaction the node lost again, the same signed bytes, until it is mined', async () => {
    const [epoch] = epochChain(1);
    const events: AnchorEvent[] = [];
    node.onSend = async () => (node.dropped.length === 0 ? 'drop' : 'forward');
    try {
      const [anchored] = await publisher({ onEvent: (e) => events.push(e) }).publishRecords([epoch!.bytes]);
      const sent = events.filter((e) => e.type === 'sent');
      expect(sent.map((e) => e.how)).toEqual(['new', 'rebroadcast']);
      expect(node.dropped).toHaveLength(1);
      // The mined transaction is the very one that was lost: same bytes, same hash.
      expect(anchored!.proof.txHash).toBe(keccak256(node.dropped[0] as Hex));
      expect(await confirmEpochRecord(node.url, epoch!.bytes, proofToJson(anchored!.proof))).toMatchObject({
        ok: true,
      });
    } finally {
      node.onSend = undefined;
      node.dropped.length = 0;
    }
  });

  it('a send whose answer was lost is watched and sent again, never re-created as a second transaction', async () => {
    const [epoch] = epochChain(1);
    const account = privateKeyToAddress(TEST_KEYS[0]);
    const nonce = async () => BigInt(await node.rpc<Hex>('eth_getTransactionCount', [account, 'latest']));
    const before = await nonce();
    const sent: Hex[] = [];
    // The node takes the transaction into its mempool (automine off) and the answer is lost; it is
    // mined only when the next transaction arrives.
    node.onSend = async (raw) => {
      sent.push(keccak256(raw as Hex));
      if (sent.length > 1) return 'forward-and-mine';
      await node.rpc('evm_setAutomine', [false]);
      return 'lose-answer';
    };
    try {
      const events: AnchorEvent[] = [];
      const [anchored] = await publisher({ onEvent: (e) => events.push(e) }).publishRecords([epoch!.bytes]);
      expect(node.answersLost).toHaveLength(1);
      expect(events.filter((e) => e.type === 'sent').map((e) => e.how)).toEqual(['new', 'rebroadcast']);
      // Both sends were the same transaction, and it is the one mined: one nonce used.
      expect(new Set(sent).size).toBe(1);
      expect(anchored!.proof.txHash).toBe(sent[0]);
      expect((await nonce()) - before).toBe(1n);
    } finally {
      node.onSend = undefined;
      node.answersLost.length = 0;
      await node.rpc('evm_setAutomine', [true]);
    }
  });

  it('after a restart with its transaction still in the mempool, anchors under the same nonce, once', async () => {
    const [epoch] = epochChain(1);
    const account = privateKeyToAddress(TEST_KEYS[0]);
    const nonce = async () => BigInt(await node.rpc<Hex>('eth_getTransactionCount', [account, 'latest']));
    const before = await nonce();
    await node.rpc('evm_setAutomine', [false]);
    try {
      // The first run sends and stops (a crash) while the transaction waits in the mempool.
      const crash = new AbortController();
      const firstRun = publisher({
        signal: crash.signal,
        onEvent: (e) => e.type === 'sent' && crash.abort(new Error('crash')),
      }).publishRecords([epoch!.bytes]);
      await expect(firstRun).rejects.toMatchObject({ code: 'ANCHOR_GAVE_UP' });
      // The next run knows nothing of it; the block is mined when its transaction arrives.
      node.onSend = async () => 'forward-and-mine';
      const [anchored] = await publisher().publishRecords([epoch!.bytes]);
      expect((await nonce()) - before).toBe(1n);
      expect(await confirmEpochRecord(node.url, epoch!.bytes, proofToJson(anchored!.proof))).toMatchObject({
        ok: true,
      });
    } finally {
      node.onSend = undefined;
      await node.rpc('evm_setAutomine', [true]);
    }
  });

  it('replaces a transaction that stays lost with the same nonce and higher fees; one version is mined', async () => {
    const [epoch] = epochChain(1);
    const events: AnchorEvent[] = [];
    // Lost twice: the first send and its rebroadcast; the replacement gets through.
    node.onSend = async () => (node.dropped.length < 2 ? 'drop' : 'forward');
    try {
      const options = { replaceAfterRebroadcasts: 1, onEvent: (e: AnchorEvent) => events.push(e) };
      const [anchored] = await publisher(options).publishRecords([epoch!.bytes]);
      expect(events.filter((e) => e.type === 'sent').map((e) => e.how)).toEqual(['new', 'rebroadcast', 'replacement']);
      const lost = parseTransaction(node.dropped[0] as Hex);
      const mined = await node.rpc<{ nonce: Hex; maxFeePerGas: Hex; hash: Hex }>('eth_getTransactionByHash', [
        anchored!.proof.txHash,
      ]);
      expect(anchored!.proof.txHash).not.toBe(keccak256(node.dropped[0] as Hex));
      expect(BigInt(mined.nonce)).toBe(BigInt(lost.nonce!));
      expect(BigInt(mined.maxFeePerGas)).toBeGreaterThan(lost.maxFeePerGas!);
      const only = await locateAnchor(node.url, target(epoch!.bytes), {
        contract: deployment.contract,
        anchorer: anchored!.proof.anchorer,
        fromBlock: deployment.blockNumber,
      });
      expect(only).toMatchObject({ ok: true, proof: anchored!.proof });
    } finally {
      node.onSend = undefined;
      node.dropped.length = 0;
    }
  });

  it('gives up with ANCHOR_GAVE_UP after maxAttempts when the node stays down', async () => {
    const [epoch] = epochChain(1);
    await node.down();
    try {
      const publishing = publisher({ retry: { minMs: 1, maxMs: 5, maxAttempts: 3 } }).publishRecords([epoch!.bytes]);
      await expect(publishing).rejects.toMatchObject({ code: 'ANCHOR_GAVE_UP' });
    } finally {
      await node.up();
    }
  });

  describe('confirmation refuses', () => {
    let epochBytes: Uint8Array;
    let proof: Awaited<ReturnType<AnchorPublisher['publish']>>[number]['proof'];
    beforeAll(async () => {
      const [epoch] = epochChain(1);
      epochBytes = epoch!.bytes;
      proof = (await publisher().publishRecords([epochBytes]))[0]!.proof;
    });
    const check = (p: typeof proof, options = {}) => confirmAnchor(node.url, target(epochBytes), p, options);

    it('another chain id (ANCHOR_WRONG_CHAIN)', async () => {
      expect(await check({ ...proof, chainId: 1n })).toMatchObject({ ok: false, code: 'ANCHOR_WRONG_CHAIN' });
    });

    it('an address without TallyAnchor: no code, or other code (ANCHOR_WRONG_CODE)', async () => {
      expect(await check({ ...proof, contract: proof.anchorer })).toMatchObject({
        ok: false,
        code: 'ANCHOR_WRONG_CODE',
      });
      // Any other contract, e.g. one that would let a root be overwritten: here, one byte of code.
      const wallet = createWalletClient({
        account: privateKeyToAccount(TEST_KEYS[1]),
        chain: hardhat,
        transport: http(node.url),
      });
      const hash = await wallet.deployContract({ abi: [], bytecode: '0x600160005360016000f3' });
      const reader = createPublicClient({ chain: hardhat, transport: http(node.url) });
      const { contractAddress } = await reader.getTransactionReceipt({ hash });
      expect(await check({ ...proof, contract: contractAddress!.toLowerCase() as Hex })).toMatchObject({
        ok: false,
        code: 'ANCHOR_WRONG_CODE',
      });
    });

    it('another transaction than the anchoring one (ANCHOR_TX_MISMATCH)', async () => {
      expect(await check({ ...proof, txHash: `0x${'12'.repeat(32)}` })).toMatchObject({
        ok: false,
        code: 'ANCHOR_TX_MISMATCH',
      });
    });

    it('fewer confirmations than required (ANCHOR_UNCONFIRMED), until enough blocks follow', async () => {
      expect(await check(proof, { minConfirmations: 5n })).toMatchObject({ ok: false, code: 'ANCHOR_UNCONFIRMED' });
      await node.rpc('hardhat_mine', ['0x4']);
      expect(await check(proof, { minConfirmations: 5n })).toMatchObject({ ok: true });
    });

    it('a contract or account other than the pinned ones (ANCHOR_WRONG_NAMESPACE)', async () => {
      const stranger = privateKeyToAddress(TEST_KEYS[1]).toLowerCase() as Hex;
      expect(await check(proof, { expect: { anchorer: stranger } })).toMatchObject({
        ok: false,
        code: 'ANCHOR_WRONG_NAMESPACE',
      });
      expect(await check(proof, { expect: { contract: stranger } })).toMatchObject({
        ok: false,
        code: 'ANCHOR_WRONG_NAMESPACE',
      });
      expect(await check(proof, { expect: { contract: deployment.contract, anchorer: proof.anchorer } })).toMatchObject(
        {
          ok: true,
        },
      );
    });

    it('a malformed proof or record (ANCHOR_PROOF_INVALID), without asking the node', async () => {
      const before = [...node.calls.values()].reduce((a, b) => a + b, 0);
      const json = proofToJson(proof);
      expect(await confirmEpochRecord(node.url, epochBytes, { ...json, extra: '1' })).toMatchObject({
        ok: false,
        code: 'ANCHOR_PROOF_INVALID',
      });
      expect(await confirmEpochRecord(node.url, epochBytes.subarray(1), json)).toMatchObject({
        ok: false,
        code: 'ANCHOR_PROOF_INVALID',
      });
      expect([...node.calls.values()].reduce((a, b) => a + b, 0)).toBe(before);
    });

    it('an endpoint that does not answer: ANCHOR_RPC_FAILED, neither confirmed nor refuted', async () => {
      await node.down();
      try {
        expect(await check(proof)).toMatchObject({ ok: false, code: 'ANCHOR_RPC_FAILED' });
      } finally {
        await node.up();
      }
    });

    it('a block that a reorganisation replaced (ANCHOR_BLOCK_REPLACED)', async () => {
      // Undo the chain to before a fresh anchor and mine another block at its height: the node now
      // serves a different block under the anchor's block number.
      const [epoch] = epochChain(1);
      const snapshot = await node.rpc<Hex>('evm_snapshot');
      const [anchored] = await publisher().publishRecords([epoch!.bytes]);
      await node.rpc('evm_revert', [snapshot]);
      while (BigInt(await node.rpc<Hex>('eth_blockNumber')) < anchored!.proof.blockNumber) await node.rpc('evm_mine');
      expect(await confirmAnchor(node.url, target(epoch!.bytes), anchored!.proof)).toMatchObject({
        ok: false,
        code: 'ANCHOR_BLOCK_REPLACED',
      });
    });
  });
});
