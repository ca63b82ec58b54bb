// Deploying TallyAnchor, once per operator (or use one already deployed: the contract has no
// owner, and every anchoring account has its own namespace in it). Sent like an anchor: retried
// until mined. The deployed code is checked against the hash verifiers will compare it with.

import { keccak256 } from 'viem';
import { AnchorError } from './codes.js';
import { TALLY_ANCHOR_BYTECODE, TALLY_ANCHOR_RUNTIME_CODE_HASH } from './contract.js';
import type { Hex } from './proof.js';
import { DEFAULT_RETRY, describe, untilDone } from './retry.js';
import { DEFAULT_SENDER, TxSender, type PendingTx } from './sender.js';
import type { AnchorEvent, PublishOptions } from './publish.js';

export interface Deployment {
  chainId: bigint;
  contract: Hex;
  deployer: Hex;
  txHash: Hex;
  /** Where verifiers and the publisher start searching for anchors. */
  blockNumber: bigint;
  gasUsed: bigint;
}

const isFatal = (err: unknown) => err instanceof AnchorError || err instanceof TypeError;

export async function deployAnchorContract(
  rpcUrl: string,
  privateKey: Hex,
  options: PublishOptions = {},
): Promise<Deployment> {
  const onEvent = options.onEvent as ((e: AnchorEvent) => void) | undefined;
  const sender = new TxSender(rpcUrl, privateKey, { ...DEFAULT_SENDER, ...options }, onEvent);
  let pending: PendingTx | undefined;
  const step = async (): Promise<Deployment | undefined> => {
    if (!pending) {
      pending = await sender.create(undefined, TALLY_ANCHOR_BYTECODE);
      if ((await sender.send(pending)) === 'spent') pending = undefined;
      return undefined;
    }
    const receipt = await sender.receipt(pending);
    if (!receipt) {
      // A spent nonce without a receipt of ours: another use of the key took it; deploy afresh.
      if ((await sender.nudge(pending)) === 'spent') pending = undefined;
      return undefined;
    }
    if (receipt.status !== 'success' || !receipt.contractAddress)
      throw new AnchorError('ANCHOR_DEPLOY_FAILED', `transaction ${receipt.transactionHash} reverted`);
    const contract = receipt.contractAddress.toLowerCase() as Hex;
    const code = await sender.client.getCode({ address: contract, blockNumber: receipt.blockNumber });
    if (!code || keccak256(code) !== TALLY_ANCHOR_RUNTIME_CODE_HASH)
      throw new AnchorError('ANCHOR_DEPLOY_FAILED', `code at ${contract} is not TallyAnchor's`);
    onEvent?.({ type: 'mined', txHash: receipt.transactionHash, blockNumber: receipt.blockNumber, epochs: [] });
    return {
      chainId: BigInt(await sender.getChainId()),
      contract,
      deployer: sender.address,
      txHash: receipt.transactionHash.toLowerCase() as Hex,
      blockNumber: receipt.blockNumber,
      gasUsed: receipt.gasUsed,
    };
  };
  return untilDone(
    step,
    { ...DEFAULT_RETRY, ...options.retry },
    {
      pollMs: options.pollMs ?? 2_000,
      isFatal,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: (attempt, delayMs, err) => onEvent?.({ type: 'retry', attempt, delayMs, detail: describe(err) }),
    },
  );
}
