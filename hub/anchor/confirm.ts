// Confirming an anchor: given an RPC endpoint the verifier chose, an epoch's target (hub key, epoch,
// root; from the hub-signed record) and the proof that names where it was anchored, checks that
//   the endpoint serves the proof's chain,
//   the code at the proof's contract is TallyAnchor (whose order rule allows one root per epoch and
//   namespace, so the log found below is the only one there can be),
//   the block at the stated number has the stated hash (no reorganisation replaced it),
//   it holds an Anchored log of that contract by that account for that hub key that
//   covers the epoch, with this root, in the stated transaction,
//   and the block has enough confirmations.
// It returns a verdict (ok, or a code from ANCHOR_VERDICTS) and never throws.

import { createPublicClient, http, keccak256, type PublicClient } from 'viem';
import type { AnchorVerdictCode } from './codes.js';
import { TALLY_ANCHOR_RUNTIME_CODE_HASH } from './contract.js';
import { anchoredRoots, hex32, namespaceLogs, searchAnchors } from './logs.js';
import { parseProof, type AnchorProof, type Hex } from './proof.js';
import { describe } from './retry.js';
import { targetOfRecord, type AnchorTarget } from './target.js';

export interface ConfirmOptions {
  /** Blocks from the anchoring block to the head, both counted; 1 = mined. */
  minConfirmations?: bigint;
  /** Pins the verifier holds from elsewhere (the hub's published anchoring address). */
  expect?: { contract?: Hex; anchorer?: Hex };
  rpcTimeoutMs?: number;
}

export type AnchorVerdict =
  { ok: true; proof: AnchorProof; confirmations: bigint } | { ok: false; code: AnchorVerdictCode; detail: string };

const no = (code: AnchorVerdictCode, detail: string): AnchorVerdict => ({ ok: false, code, detail });

function clientFor(rpcUrl: string, options: ConfirmOptions): PublicClient {
  return createPublicClient({ transport: http(rpcUrl, { timeout: options.rpcTimeoutMs ?? 10_000, retryCount: 2 }) });
}

/** Checks that `target` is anchored where `proof` says. */
export async function confirmAnchor(
  rpcUrl: string,
  target: AnchorTarget,
  proof: AnchorProof,
  options: ConfirmOptions = {},
): Promise<AnchorVerdict> {
  try {
    return await confirmWith(clientFor(rpcUrl, options), target, proof, options);
  } catch (err) {
    return no('ANCHOR_RPC_FAILED', describe(err));
  }
}

/**
 * The check as `tally-hub verify --anchor-rpc` makes it on a bundle: the epoch record's exact bytes
 * (which the bundle's signature check covers) and the bundle's anchor proof, untrusted JSON.
 */
export async function confirmEpochRecord(
  rpcUrl: string,
  recordBytes: Uint8Array,
  proofJson: unknown,
  options: ConfirmOptions = {},
): Promise<AnchorVerdict> {
  const target = targetOfRecord(recordBytes);
  if (!target.ok) return no('ANCHOR_PROOF_INVALID', `epoch record: ${target.detail ?? target.code}`);
  const proof = parseProof(proofJson);
  if (!proof.ok) return no('ANCHOR_PROOF_INVALID', proof.detail ?? proof.code);
  return confirmAnchor(rpcUrl, target.value, proof.value, options);
}

/**
 * Looks for a target's anchor without a proof (a verifier that holds only the record and knows the
 * hub's contract and anchoring account): ANCHOR_NOT_FOUND when the epoch was never anchored there.
 */
export async function locateAnchor(
  rpcUrl: string,
  target: AnchorTarget,
  where: { contract: Hex; anchorer: Hex; fromBlock?: bigint; logChunkBlocks?: bigint },
  options: ConfirmOptions = {},
): Promise<AnchorVerdict> {
  try {
    const client = clientFor(rpcUrl, options);
    const chainId = BigInt(await client.getChainId());
    const ns = {
      chainId,
      contract: where.contract.toLowerCase() as Hex,
      anchorer: where.anchorer.toLowerCase() as Hex,
      hubKey: hex32(target.hubKey),
    };
    const found = await searchAnchors(client, ns, [target.epoch], {
      fromBlock: where.fromBlock ?? 0n,
      chunk: where.logChunkBlocks ?? 10_000n,
    });
    const anchor = found.get(target.epoch);
    if (!anchor) return no('ANCHOR_NOT_FOUND', `epoch ${target.epoch} is not anchored by ${ns.anchorer}`);
    return await confirmWith(client, target, anchor.proof, options);
  } catch (err) {
    return no('ANCHOR_RPC_FAILED', describe(err));
  }
}

async function confirmWith(
  client: PublicClient,
  target: AnchorTarget,
  proof: AnchorProof,
  options: ConfirmOptions,
): Promise<AnchorVerdict> {
  const contract = proof.contract.toLowerCase() as Hex;
  const anchorer = proof.anchorer.toLowerCase() as Hex;
  const pins = options.expect ?? {};
  if (pins.contract !== undefined && pins.contract.toLowerCase() !== contract)
    return no('ANCHOR_WRONG_NAMESPACE', `contract ${contract}, expected ${pins.contract.toLowerCase()}`);
  if (pins.anchorer !== undefined && pins.anchorer.toLowerCase() !== anchorer)
    return no('ANCHOR_WRONG_NAMESPACE', `anchorer ${anchorer}, expected ${pins.anchorer.toLowerCase()}`);

  const chainId = BigInt(await client.getChainId());
  if (chainId !== proof.chainId) return no('ANCHOR_WRONG_CHAIN', `endpoint chain ${chainId}, proof ${proof.chainId}`);

  const code = await client.getCode({ address: contract });
  if (code === undefined || code === '0x') return no('ANCHOR_WRONG_CODE', `no contract at ${contract}`);
  if (keccak256(code) !== TALLY_ANCHOR_RUNTIME_CODE_HASH)
    return no('ANCHOR_WRONG_CODE', `code at ${contract} hashes to ${keccak256(code)}`);

  const head = await client.getBlockNumber();
  if (proof.blockNumber > head) return no('ANCHOR_NOT_FOUND', `block ${proof.blockNumber} is beyond the head ${head}`);
  const block = await client.getBlock({ blockNumber: proof.blockNumber });
  if (block.hash?.toLowerCase() !== proof.blockHash.toLowerCase())
    return no('ANCHOR_BLOCK_REPLACED', `block ${proof.blockNumber} is ${block.hash} now, not ${proof.blockHash}`);
  const ns = { chainId, contract, anchorer, hubKey: hex32(target.hubKey) };
  const logs = await namespaceLogs(client, ns, proof.blockNumber, proof.blockNumber);
  const anchor = anchoredRoots(logs, ns).find((a) => a.epoch === target.epoch);
  if (!anchor)
    return no(
      'ANCHOR_NOT_FOUND',
      `no anchor of epoch ${target.epoch} by ${anchorer} for this hub key in block ${proof.blockNumber}`,
    );
  const root = hex32(target.root);
  if (anchor.root !== root) return no('ANCHOR_ROOT_MISMATCH', `anchored root ${anchor.root}, bundle root ${root}`);
  if (anchor.proof.txHash !== proof.txHash.toLowerCase())
    return no('ANCHOR_TX_MISMATCH', `anchored by transaction ${anchor.proof.txHash}`);
  const confirmations = head - proof.blockNumber + 1n;
  const min = options.minConfirmations ?? 1n;
  if (confirmations < min) return no('ANCHOR_UNCONFIRMED', `${confirmations} confirmations, ${min} required`);
  return { ok: true, proof: anchor.proof, confirmations };
}
