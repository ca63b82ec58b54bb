// Reading anchors back from the chain: the contract's Anchored events, one per transaction, each
// carrying the roots of consecutive epochs. Roots live only in the log (the contract stores just the
// last epoch per namespace), so this is how both the publisher and the verifier learn what is
// anchored.

import { bytesToHex, parseEventLogs, type Log, type PublicClient } from 'viem';
import { TALLY_ANCHOR_ABI } from './contract.js';
import type { AnchorProof, Hex } from './proof.js';

/** One epoch's anchored root and where it was anchored. */
export interface AnchoredRoot {
  epoch: bigint;
  root: Hex;
  proof: AnchorProof;
}

export const hex32 = (bytes: Uint8Array): Hex => bytesToHex(bytes);

/** The anchored roots in logs, for one contract, anchoring account and hub key. */
export function anchoredRoots(
  logs: readonly Log[],
  where: { chainId: bigint; contract: Hex; anchorer: Hex; hubKey: Hex },
): AnchoredRoot[] {
  const out: AnchoredRoot[] = [];
  for (const log of parseEventLogs({ abi: TALLY_ANCHOR_ABI, eventName: 'Anchored', logs: [...logs], strict: true })) {
    if (log.address.toLowerCase() !== where.contract) continue;
    if (log.args.anchorer.toLowerCase() !== where.anchorer || log.args.hubKey.toLowerCase() !== where.hubKey) continue;
    if (log.blockNumber === null || log.blockHash === null || log.transactionHash === null) continue; // pending
    log.args.roots.forEach((root, i) => {
      out.push({
        epoch: log.args.firstEpoch + BigInt(i),
        root: root.toLowerCase() as Hex,
        proof: {
          chainId: where.chainId,
          contract: where.contract,
          anchorer: where.anchorer,
          txHash: log.transactionHash!.toLowerCase() as Hex,
          blockNumber: log.blockNumber!,
          blockHash: log.blockHash!.toLowerCase() as Hex,
        },
      });
    });
  }
  return out;
}

/** The Anchored logs of one namespace in [fromBlock, toBlock], as the node's eth_getLogs gives them. */
export function namespaceLogs(
  client: PublicClient,
  where: { contract: Hex; anchorer: Hex; hubKey: Hex },
  fromBlock: bigint,
  toBlock: bigint,
): Promise<Log[]> {
  return client.getContractEvents({
    address: where.contract,
    abi: TALLY_ANCHOR_ABI,
    eventName: 'Anchored',
    args: { anchorer: where.anchorer, hubKey: where.hubKey },
    fromBlock,
    toBlock,
  }) as Promise<Log[]>;
}

/**
 * Searches the chain for the anchors of some epochs, newest blocks first (anchors are appended in
 * epoch order, so recent epochs are found quickly), in windows of `chunk` blocks because public
 * endpoints cap the range of eth_getLogs. Stops once every wanted epoch is found or at fromBlock.
 */
export async function searchAnchors(
  client: PublicClient,
  where: { chainId: bigint; contract: Hex; anchorer: Hex; hubKey: Hex },
  epochs: readonly bigint[],
  options: { fromBlock: bigint; chunk: bigint },
): Promise<Map<bigint, AnchoredRoot>> {
  const wanted = new Set(epochs);
  const found = new Map<bigint, AnchoredRoot>();
  let to = await client.getBlockNumber();
  while (wanted.size > 0 && to >= options.fromBlock) {
    const from = to - options.chunk + 1n > options.fromBlock ? to - options.chunk + 1n : options.fromBlock;
    for (const a of anchoredRoots(await namespaceLogs(client, where, from, to), where)) {
      if (wanted.delete(a.epoch)) found.set(a.epoch, a);
    }
    to = from - 1n;
  }
  return found;
}
