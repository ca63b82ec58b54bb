// Publishing epoch roots: one transaction per call, carrying one epoch or a batch of consecutive
// epochs, retried until mined. Safe to repeat after a crash or a lost answer: before sending, it
// reads the namespace's last anchored epoch and takes what is already on chain (the same roots)
// instead of sending again; a different root already anchored is ANCHOR_CONFLICT, never retried.

import { encodeFunctionData, type TransactionReceipt } from 'viem';
import { AnchorError } from './codes.js';
import { TALLY_ANCHOR_ABI } from './contract.js';
import { anchoredRoots, hex32, searchAnchors, type AnchoredRoot } from './logs.js';
import type { AnchorProof, Hex } from './proof.js';
import { DEFAULT_RETRY, describe, untilDone, type RetryPolicy } from './retry.js';
import { DEFAULT_SENDER, TxSender, type PendingTx, type SendEvent, type SenderOptions } from './sender.js';
import { assertBatch, targetOfRecord, type AnchorTarget } from './target.js';

export interface AnchorAccount {
  rpcUrl: string;
  /** TallyAnchor address (deployAnchorContract). */
  contract: Hex;
  /** secp256k1 key of the anchoring account (readAnchorKey). */
  privateKey: Hex;
  /** Where to start looking for earlier anchors: the contract's deployment block. */
  fromBlock?: bigint;
}

export type AnchorEvent =
  | SendEvent
  | { type: 'retry'; attempt: number; delayMs: number; detail: string }
  | { type: 'mined'; txHash: Hex; blockNumber: bigint; epochs: bigint[] }
  | { type: 'found'; epochs: bigint[] };

export interface PublishOptions extends Partial<SenderOptions> {
  retry?: Partial<RetryPolicy>;
  /** How often to look for the receipt. */
  pollMs?: number;
  /** eth_getLogs window when searching for earlier anchors. */
  logChunkBlocks?: bigint;
  onEvent?: (e: AnchorEvent) => void;
  signal?: AbortSignal;
}

export interface EpochAnchor {
  epoch: bigint;
  proof: AnchorProof;
}

/** A reverted anchor is normal once (another version of it, or a race, got there first); not thrice. */
const MAX_REVERTS = 3;

const isFatal = (err: unknown) => err instanceof AnchorError || err instanceof TypeError;

export class AnchorPublisher {
  private readonly sender: TxSender;
  private readonly retry: RetryPolicy;
  private readonly pollMs: number;
  private readonly chunk: bigint;

  constructor(
    private readonly account: AnchorAccount,
    private readonly options: PublishOptions = {},
  ) {
    this.sender = new TxSender(account.rpcUrl, account.privateKey, { ...DEFAULT_SENDER, ...options }, options.onEvent);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.pollMs = options.pollMs ?? 2_000;
    this.chunk = options.logChunkBlocks ?? 10_000n;
  }

  /** The anchoring account's address. */
  get anchorer(): Hex {
    return this.sender.address;
  }

  /**
   * Anchors the roots of consecutive epochs of one hub key in one transaction, and returns each
   * epoch's proof once mined. Throws AnchorError: ANCHOR_CONFLICT, ANCHOR_GAP, ANCHOR_GAVE_UP.
   */
  async publish(targets: readonly AnchorTarget[]): Promise<EpochAnchor[]> {
    assertBatch(targets);
    const contract = this.account.contract.toLowerCase() as Hex;
    const hubKey = hex32(targets[0]!.hubKey);
    const wantRoot = new Map(targets.map((t) => [t.epoch, hex32(t.root)]));
    const done = new Map<bigint, AnchorProof>();
    let pending: PendingTx | undefined;
    let reverted = 0;

    const take = (anchors: Iterable<AnchoredRoot>) => {
      for (const a of anchors) {
        const want = wantRoot.get(a.epoch);
        if (want === undefined) continue;
        if (want !== a.root)
          throw new AnchorError('ANCHOR_CONFLICT', `epoch ${a.epoch}: ${a.root} on chain, ${want} to publish`);
        done.set(a.epoch, a.proof);
      }
    };
    const result = () => targets.map((t) => ({ epoch: t.epoch, proof: done.get(t.epoch)! }));

    const step = async (): Promise<EpochAnchor[] | undefined> => {
      const chainId = BigInt(await this.sender.getChainId());
      const where = { chainId, contract, anchorer: this.anchorer, hubKey };
      if (pending) {
        const receipt = await this.sender.receipt(pending);
        if (receipt) {
          pending = undefined;
          if (!this.mined(receipt, where, take) && ++reverted >= MAX_REVERTS)
            throw new AnchorError('ANCHOR_GAVE_UP', `${reverted} anchoring transactions reverted`);
          if (done.size === targets.length) return result();
        } else if ((await this.sender.nudge(pending)) === 'waiting') {
          return undefined;
        } else {
          pending = undefined; // nonce spent: find out below what the chain holds now
        }
      }
      // Nothing in flight: what does the namespace hold already?
      const last = await this.sender.client.readContract({
        address: contract,
        abi: TALLY_ANCHOR_ABI,
        functionName: 'lastEpoch',
        args: [this.anchorer, hubKey],
      });
      const missing = targets.filter((t) => !done.has(t.epoch));
      const onChain = missing.filter((t) => t.epoch <= last).map((t) => t.epoch);
      if (onChain.length > 0) {
        const found = await searchAnchors(this.sender.client, where, onChain, {
          fromBlock: this.account.fromBlock ?? 0n,
          chunk: this.chunk,
        });
        if (found.size < onChain.length) throw new Error('anchored epochs not found in the logs yet; retrying');
        take(found.values());
        this.options.onEvent?.({ type: 'found', epochs: onChain });
        if (done.size === targets.length) return result();
      }
      const rest = targets.filter((t) => !done.has(t.epoch));
      const first = rest[0]!.epoch;
      if (last !== 0n && first !== last + 1n)
        throw new AnchorError('ANCHOR_GAP', `last anchored epoch ${last}, next to publish ${first}`);
      const data = encodeFunctionData({
        abi: TALLY_ANCHOR_ABI,
        functionName: 'anchor',
        args: [hubKey, first, rest.map((t) => hex32(t.root))],
      });
      pending = await this.sender.create(contract, data);
      if ((await this.sender.send(pending)) === 'spent') pending = undefined;
      return undefined;
    };

    return untilDone(step, this.retry, {
      pollMs: this.pollMs,
      isFatal,
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      onRetry: (attempt, delayMs, err) =>
        this.options.onEvent?.({ type: 'retry', attempt, delayMs, detail: describe(err) }),
    });
  }

  /**
   * Anchors epochs given as the exact bytes of their hub-signed records [P-8.4] (as the store keeps
   * them): consecutive epochs of one hub. Returns each epoch's proof, ready to store with the epoch.
   */
  async publishRecords(records: readonly Uint8Array[]): Promise<EpochAnchor[]> {
    const targets = records.map((bytes, i) => {
      const target = targetOfRecord(bytes);
      if (!target.ok) throw new TypeError(`epoch record ${i} does not decode: ${target.detail ?? target.code}`);
      return target.value;
    });
    return this.publish(targets);
  }

  /** Takes the anchors of a mined receipt; false when it reverted (another version won, or a race). */
  private mined(
    receipt: TransactionReceipt,
    where: { chainId: bigint; contract: Hex; anchorer: Hex; hubKey: Hex },
    take: (anchors: Iterable<AnchoredRoot>) => void,
  ): boolean {
    if (receipt.status !== 'success') return false;
    const anchors = anchoredRoots(receipt.logs, where);
    take(anchors);
    this.options.onEvent?.({
      type: 'mined',
      txHash: receipt.transactionHash.toLowerCase() as Hex,
      blockNumber: receipt.blockNumber,
      epochs: anchors.map((a) => a.epoch),
    });
    return true;
  }
}
