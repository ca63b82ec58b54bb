// One account's transactions, sent until mined. A transaction is signed once with a fixed nonce and
// its exact bytes are broadcast again while no receipt shows up (a node may have lost it); when it
// lingers past a few rebroadcasts it is re-signed with the SAME nonce and higher fees, so at most one
// of its versions can ever be mined. Every hash signed for the nonce is watched for a receipt.

import {
  createPublicClient,
  http,
  keccak256,
  TransactionReceiptNotFoundError,
  type PublicClient,
  type TransactionReceipt,
} from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import type { Hex } from './proof.js';

export interface SenderOptions {
  /** Per RPC request. */
  rpcTimeoutMs: number;
  /** Broadcast the same transaction again when it has not been mined this long after sending. */
  rebroadcastAfterMs: number;
  /** After this many rebroadcasts, replace it (same nonce) with fees raised by feeBumpPercent. */
  replaceAfterRebroadcasts: number;
  /** Nodes refuse a replacement below +10%; 25 leaves room. */
  feeBumpPercent: number;
  /** Gas limit = estimate * (100 + gasMarginPercent) / 100; unused gas is not paid for. */
  gasMarginPercent: number;
  now?: () => number;
}

export const DEFAULT_SENDER: SenderOptions = {
  rpcTimeoutMs: 10_000,
  rebroadcastAfterMs: 60_000,
  replaceAfterRebroadcasts: 3,
  feeBumpPercent: 25,
  gasMarginPercent: 20,
};

type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { gasPrice: bigint };

export interface PendingTx {
  nonce: number;
  to: Hex | undefined;
  data: Hex;
  gas: bigint;
  fees: Fees;
  raw: Hex;
  /** Every hash signed for this nonce, first one first. */
  hashes: Hex[];
  sentAt: number;
  rebroadcasts: number;
}

export type SendEvent = { type: 'sent'; txHash: Hex; nonce: number; how: 'new' | 'rebroadcast' | 'replacement' };

/** Node answers that mean the nonce is spent: by one of our versions, or by another sender. */
const NONCE_SPENT = /nonce too low|nonce has already been used|already been mined/i;
/** Node answers that mean the node has (a version of) it already: keep waiting. */
const ALREADY_KNOWN = /already known|known transaction|replacement transaction underpriced|already imported/i;

export class TxSender {
  readonly client: PublicClient;
  readonly account: PrivateKeyAccount;
  private chainId: number | undefined;
  private readonly now: () => number;

  constructor(
    rpcUrl: string,
    privateKey: Hex,
    private readonly options: SenderOptions,
    private readonly onEvent?: (e: SendEvent) => void,
  ) {
    // No retries inside viem: the caller's loop owns retrying, with its own backoff.
    this.client = createPublicClient({ transport: http(rpcUrl, { timeout: options.rpcTimeoutMs, retryCount: 0 }) });
    this.account = privateKeyToAccount(privateKey);
    this.now = options.now ?? Date.now;
  }

  get address(): Hex {
    return this.account.address.toLowerCase() as Hex;
  }

  async getChainId(): Promise<number> {
    this.chainId ??= await this.client.getChainId();
    return this.chainId;
  }

  /**
   * Signs a new transaction without sending it: the caller keeps it before send(), so that a send
   * whose answer is lost is watched and sent again, never re-created. The nonce and the gas estimate
   * are taken at the latest block, not the pending one: a transaction of an earlier run still in the
   * mempool (a restart) is then replaced or joined under the same nonce instead of queued behind, and
   * the estimate does not fail on the anchor that transaction would make.
   */
  async create(to: Hex | undefined, data: Hex): Promise<PendingTx> {
    const from = this.account.address;
    const nonce = await this.client.getTransactionCount({ address: from, blockTag: 'latest' });
    const estimate = await this.client.estimateGas({
      account: from,
      ...(to ? { to } : {}),
      data,
      blockTag: 'latest',
    });
    const gas = (estimate * BigInt(100 + this.options.gasMarginPercent)) / 100n;
    const fees = await this.currentFees();
    const tx: PendingTx = { nonce, to, data, gas, fees, raw: '0x', hashes: [], sentAt: 0, rebroadcasts: 0 };
    await this.sign(tx);
    return tx;
  }

  /** First broadcast of a created transaction; 'spent' when its nonce was taken meanwhile. */
  send(tx: PendingTx): Promise<'waiting' | 'spent'> {
    return this.broadcast(tx, 'new');
  }

  /** The first receipt among the versions of tx, if one was mined. */
  async receipt(tx: PendingTx): Promise<TransactionReceipt | undefined> {
    for (const hash of tx.hashes) {
      try {
        return await this.client.getTransactionReceipt({ hash });
      } catch (err) {
        if (!(err instanceof TransactionReceiptNotFoundError)) throw err;
      }
    }
    return undefined;
  }

  /**
   * Rebroadcasts or replaces tx when it has waited long enough. Returns 'spent' when the node says
   * its nonce is used (one of its versions was mined, or another sender used the account): the
   * caller then looks at receipts and chain state before sending anything new.
   */
  async nudge(tx: PendingTx): Promise<'waiting' | 'spent'> {
    if (this.now() - tx.sentAt < this.options.rebroadcastAfterMs) return 'waiting';
    if (tx.rebroadcasts >= this.options.replaceAfterRebroadcasts) {
      tx.fees = bump(tx.fees, await this.currentFees(), this.options.feeBumpPercent);
      tx.rebroadcasts = 0;
      await this.sign(tx);
      return this.broadcast(tx, 'replacement');
    }
    tx.rebroadcasts += 1;
    return this.broadcast(tx, 'rebroadcast');
  }

  private async currentFees(): Promise<Fees> {
    const block = await this.client.getBlock({ blockTag: 'latest' });
    if (block.baseFeePerGas === null || block.baseFeePerGas === undefined)
      return { gasPrice: await this.client.getGasPrice() };
    const { maxFeePerGas, maxPriorityFeePerGas } = await this.client.estimateFeesPerGas({
      chain: null,
      type: 'eip1559',
    });
    return { maxFeePerGas, maxPriorityFeePerGas };
  }

  private async sign(tx: PendingTx): Promise<void> {
    const common = {
      chainId: await this.getChainId(),
      nonce: tx.nonce,
      gas: tx.gas,
      data: tx.data,
      ...(tx.to ? { to: tx.to } : {}),
    };
    tx.raw =
      'gasPrice' in tx.fees
        ? await this.account.signTransaction({ ...common, type: 'legacy', gasPrice: tx.fees.gasPrice })
        : await this.account.signTransaction({ ...common, type: 'eip1559', ...tx.fees });
  }

  private async broadcast(tx: PendingTx, how: SendEvent['how']): Promise<'waiting' | 'spent'> {
    // The hash is known before sending: a send whose answer is lost still gets watched.
    const hash = keccak256(tx.raw);
    if (!tx.hashes.includes(hash)) tx.hashes.push(hash);
    tx.sentAt = this.now();
    this.onEvent?.({ type: 'sent', txHash: hash, nonce: tx.nonce, how });
    try {
      await this.client.sendRawTransaction({ serializedTransaction: tx.raw });
    } catch (err) {
      const text = String((err as Error).message ?? err);
      if (NONCE_SPENT.test(text)) return 'spent';
      if (!ALREADY_KNOWN.test(text)) {
        // The node may have taken it before the answer was lost: broadcast again at the next step.
        tx.sentAt = Number.NEGATIVE_INFINITY;
        throw err;
      }
    }
    return 'waiting';
  }
}

function bump(old: Fees, fresh: Fees, percent: number): Fees {
  const up = (v: bigint) => (v * BigInt(100 + percent) + 99n) / 100n;
  const max = (a: bigint, b: bigint) => (a > b ? a : b);
  if ('gasPrice' in old || 'gasPrice' in fresh) {
    const before = 'gasPrice' in old ? old.gasPrice : old.maxFeePerGas;
    const now = 'gasPrice' in fresh ? fresh.gasPrice : fresh.maxFeePerGas;
    return { gasPrice: max(up(before), now) };
  }
  return {
    maxFeePerGas: max(up(old.maxFeePerGas), fresh.maxFeePerGas),
    maxPriorityFeePerGas: max(up(old.maxPriorityFeePerGas), fresh.maxPriorityFeePerGas),
  };
}
