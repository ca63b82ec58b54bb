// The hub's anchoring loop (docs/settlement.md, "Anchoring"): every closed epoch's root is published
// on the chain, oldest first, a batch of pending epochs per transaction, retried with backoff until
// mined; then the proof is stored with the epoch, and bundles of it carry it [P-8.8]. The store is
// the queue: an epoch without a stored anchor is pending, so a hub restarted with epochs pending
// (killed mid-transaction, chain unreachable for a day) finds them again and carries on; the
// publisher takes an anchor it already made from the chain instead of sending it twice.

import { setTimeout as sleep } from 'node:timers/promises';
import type { HubStore } from '../store/types.js';
import type { HubLog } from '../base/log-codes.js';
import { isAnchorError } from './codes.js';
import type { AnchorClient } from './index.js';
import { proofToJson, type Hex } from './proof.js';
import { describe, jitterDelay, type RetryPolicy } from './retry.js';

export interface AnchorSettings {
  rpcUrl: string;
  contract: Hex;
  privateKey: Hex;
  /** Most epochs per transaction; a hub that anchors late catches up in batches of this size. */
  batchMax: number;
  /** Between failed rounds (each round itself retries until mined or a fatal error). */
  retry: RetryPolicy;
  /** Options for the publisher (poll interval, rebroadcast): tests make them fast. */
  publish?: Record<string, unknown>;
}

export class EpochAnchorer {
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  /** Set by notify(): an epoch closed while the loop was reading the store, so it reads again. */
  private notified = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: AnchorClient,
    private readonly store: Pick<HubStore, 'unanchoredEpochs' | 'setEpochAnchor'>,
    private readonly settings: AnchorSettings,
    private readonly log: HubLog,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** An epoch was closed: look for pending epochs now rather than at the next round. */
  notify(): void {
    this.notified = true;
    this.wake?.();
  }

  async close(): Promise<void> {
    this.abort.abort(new Error('hub stopping'));
    this.wake?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    const publisher = new this.client.AnchorPublisher(
      { rpcUrl: this.settings.rpcUrl, contract: this.settings.contract, privateKey: this.settings.privateKey },
      {
        ...this.settings.publish,
        signal,
        onEvent: (e) => {
          if (e.type === 'retry') this.log.event('ANCHOR_ATTEMPT_FAILED', { attempt: e.attempt, detail: e.detail });
        },
      },
    );
    let failures = 0;
    const backOff = async (err: unknown, fromEpoch?: bigint) => {
      failures += 1;
      const delay = jitterDelay(failures - 1, this.settings.retry);
      // ANCHOR_CONFLICT (another root of ours on chain for the epoch) will not heal by retrying,
      // but is logged as loudly as can be and retried slowly: an operator must look.
      this.log.event('ANCHOR_FAILED', {
        ...(fromEpoch !== undefined ? { fromEpoch: String(fromEpoch) } : {}),
        ...(isAnchorError(err) ? { reason: err.code } : {}),
        detail: describe(err),
        retryInMs: delay,
      });
      await sleep(delay, undefined, { signal }).catch(() => undefined);
    };
    while (!signal.aborted) {
      this.notified = false;
      let pending;
      try {
        pending = await this.store.unanchoredEpochs(this.settings.batchMax);
      } catch (err) {
        // The store is out of reach (a networked database restarting): the queue is still there.
        if (signal.aborted) break;
        await backOff(err);
        continue;
      }
      if (pending.length === 0) {
        if (!this.notified && !signal.aborted) await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      // Epochs are closed consecutively [P-8.1]; a batch is a run of them.
      const run = pending.filter((e, i) => e.epoch === pending[0]!.epoch + BigInt(i));
      try {
        const anchors = await publisher.publishRecords(run.map((e) => e.record));
        for (const a of anchors) await this.store.setEpochAnchor(a.epoch, JSON.stringify(proofToJson(a.proof)));
        const last = anchors[anchors.length - 1]!;
        this.log.event('EPOCH_ANCHORED', {
          epochs: anchors.map((a) => String(a.epoch)),
          txHash: last.proof.txHash,
          block: String(last.proof.blockNumber),
        });
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        await backOff(err, run[0]!.epoch);
      }
    }
  }
}
