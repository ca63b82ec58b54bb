// The ingest pipeline, in the protocol's words:
//   decode -> authorize -> sequence -> verify -> apply -> persist -> receipt
// Each step lives in its own file and either passes a value on or stops the message with a
// rejection. A rejection is counted (metrics and SQLite), told to the device when it names one of
// its channels (REJECT, RESYNC or CAPACITY), and never changes a balance. Nothing here throws on
// input: a bug that does is caught, counted and logged, and the hub keeps running.

import { performance } from 'node:perf_hooks';
import { fromHex, segmentHeadSeq, type Segment } from '../../protocol/index.js';
import type { HubConfig } from '../base/config.js';
import type { Controls } from '../model/controls.js';
import { pendingHead, verifiedHead, type LiveChannel, type PendingSegment, type Registry } from '../model/registry.js';
import type { HubMetrics } from '../base/metrics.js';
import type { HubStore } from '../store/types.js';
import { applyStep, markExhausted } from './apply.js';
import { authorizeStep } from './authorize.js';
import { GroupCommit } from './commit.js';
import { decodeStep } from './decode.js';
import { bufferSegment, dropWaiting, gapExpired, takeReady } from './reorder.js';
import { sequenceStep } from './sequence.js';
import type { SignatureVerifier } from './signature-pool.js';
import type { Rejection } from './types.js';
import { signedByDevice, verifyStep } from './verify.js';

export interface PipelineDeps {
  store: HubStore;
  registry: Registry;
  metrics: HubMetrics;
  controls: Controls;
  config: HubConfig;
  now: () => number;
  /** Worker threads for signature checks; undefined = check on the main thread. */
  pool: SignatureVerifier | undefined;
  /** A device said hello or online [P-6.6]: answer with its GRANT. */
  onHello(deviceHex: string): void;
  onOffline(deviceHex: string): void;
}

/** True while a voucher at or below `seq` of the live chain waits for its signature verdict. */
function awaitsVerdict(ch: LiveChannel, seq: bigint): boolean {
  return ch.pending.some((p) => p.signature === 'pending' && p.newFromSeq <= seq);
}

export class IngestPipeline {
  readonly commit: GroupCommit;

  constructor(private readonly d: PipelineDeps) {
    this.commit = new GroupCommit(d.store, d.registry, d.controls, d.metrics, {
      maxSegments: d.config.commitMaxSegments,
      delayMs: d.config.commitDelayMs,
      rejectionLogLimit: d.config.rejectionLogLimit,
      log: d.config.log,
      now: d.now,
    });
  }

  /** Entry point for every uplink message. */
  onMessage(topic: string, payload: Uint8Array): void {
    const arrivedAt = performance.now();
    try {
      const decoded = decodeStep(topic, payload);
      if (!decoded.ok) return this.reject(decoded.rejection);
      const m = decoded.value;
      if (m.kind === 'status') return this.onStatus(m.deviceHex, m.status.state);
      const authorized = authorizeStep(this.d.registry, m.deviceHex, m.segment);
      if (!authorized.ok) return this.reject(authorized.rejection);
      this.placeAndDrain(authorized.value, m.segment, m.bytes, arrivedAt);
    } catch (err) {
      this.d.config.log('error', `ingest: unexpected ${(err as Error).stack ?? String(err)}`);
      this.d.metrics.vouchersRejected.inc({ reason: 'HUB_INTERNAL' });
    }
  }

  private placeAndDrain(ch: LiveChannel, s: Segment, bytes: Uint8Array, arrivedAt: number): void {
    this.place(ch, s, bytes, arrivedAt);
    // Segments that were waiting for this one may follow it now.
    for (let w = takeReady(this.d.registry, ch); w; w = takeReady(this.d.registry, ch)) {
      this.place(ch, w.segment, w.bytes, w.arrivedAt);
    }
  }

  private onStatus(deviceHex: string, state: string): void {
    const device = this.d.registry.devices.get(deviceHex);
    if (!device) {
      return this.reject({
        stage: 'status',
        reason: 'UNKNOWN_DEVICE',
        deviceHex,
        channel: null,
        seq: null,
        vouchers: 0,
      });
    }
    if (state === 'hello' || state === 'online') this.d.onHello(deviceHex);
    else if (state === 'offline') this.d.onOffline(deviceHex);
  }

  /** sequence -> verify -> apply for one segment of an authorized channel. */
  private place(ch: LiveChannel, s: Segment, bytes: Uint8Array, arrivedAt: number): void {
    const vouchers = s.vouchers.length;
    const lastSeq = segmentHeadSeq(s);
    const base = { deviceHex: ch.deviceHex, channel: ch, seq: lastSeq, vouchers };
    const placement = sequenceStep(this.d.store, ch, s);
    switch (placement.kind) {
      case 'gap':
        return this.wait(ch, s, bytes, arrivedAt);
      case 'duplicate':
        // [P-5.3] acknowledged again with the current receipt, not counted.
        this.d.metrics.duplicates.inc();
        this.commit.duplicate(ch);
        return this.reject({ stage: 'sequence', reason: 'DUPLICATE', ...base }, false);
      case 'lost':
        this.d.config.log('error', `channel ${ch.idHex}: no stored voucher at seq ${placement.seq}`);
        return this.reject({
          stage: 'sequence',
          reason: 'SEQ_STALE',
          ...base,
          detail: `history missing at ${placement.seq}`,
        });
      case 'conflict': {
        // The stored side is not known to be signed yet (a forgery may have been chained first):
        // judge only once the worker has answered. Equivocation is between two signed chains.
        if (awaitsVerdict(ch, placement.seq)) return this.hold(ch, s, bytes, arrivedAt);
        if (!signedByDevice(ch, s, placement.incomingHashes)) {
          return this.reject({
            stage: 'verify',
            reason: 'SIG_INVALID',
            ...base,
            detail: 'conflicting segment, bad signature',
          });
        }
        // Two different signed vouchers for one seq (a cloned or restored device): keep the
        // second as evidence, flag the channel, count only the first [DESIGN: equivocation].
        // A restored device re-sends the same conflicting segment on every receipt timeout: it is
        // refused each time, but kept once, so the evidence table cannot grow without bound.
        if (!this.commit.hasEvidence(ch, placement.seq, bytes)) {
          this.commit.evidence(ch, {
            channelId: ch.id,
            seq: placement.seq,
            storedHash: placement.storedHash,
            segment: bytes,
            detectedAtMs: BigInt(this.d.now()),
          });
          this.d.config.log('warn', `channel ${ch.idHex}: equivocation at seq ${placement.seq}`);
        }
        return this.reject({ stage: 'sequence', reason: 'EQUIVOCATION', ...base, detail: `seq ${placement.seq}` });
      }
      case 'next':
      case 'tail': {
        const verified = verifyStep(ch, s, placement.prev, this.d.pool);
        if (!verified.ok) {
          this.reject(verified.rejection);
          // [P-5.5] a signature refused here gets a RESYNC too, as one a worker refuses: the device
          // re-sends from the hub's head whatever it sent after.
          if (verified.rejection.reason === 'SIG_INVALID') this.d.controls.resync(ch, verifiedHead(ch), 'SIG_INVALID');
          return;
        }
        const { check } = verified.value;
        const applied = applyStep(
          ch,
          s,
          verified.value.verified,
          placement.newFromSeq,
          bytes,
          this.d.now(),
          arrivedAt,
          check ? 'pending' : 'ok',
        );
        if (!applied.ok) return this.reject(applied.rejection);
        ch.resyncedAtSeq = null;
        this.commit.accepted(ch);
        if (check) {
          const entry = applied.value;
          void this.d.pool!.verify(check).then((valid) => this.signatureChecked(ch, entry, valid));
        }
        return;
      }
    }
  }

  /**
   * A worker's verdict on a segment already chained in memory. Valid: it may be committed. Invalid
   * (or not checkable): it and every segment chained after it are dropped, the live head goes back
   * to the segment before, and the device is asked to re-send from there [P-5.3].
   */
  private signatureChecked(ch: LiveChannel, entry: PendingSegment, valid: boolean | undefined): void {
    try {
      if (this.commit.isStopped) return; // shutting down: nothing more is committed or sent
      const k = ch.pending.indexOf(entry);
      if (k < 0 || this.d.registry.channels.get(ch.idHex) !== ch) return this.releaseHeld(ch); // rolled back meanwhile
      if (valid === true) {
        entry.signature = 'ok';
        this.commit.stateChanged(ch);
        return this.releaseHeld(ch);
      }
      const dropped = ch.pending.splice(k);
      const before = ch.pending[k - 1];
      ch.head = before ? pendingHead(before) : ch.durable;
      if (ch.state === 'exhausted' && ch.head.cumAmount + ch.pricePerUnit <= ch.capacity) {
        ch.state = 'open';
        ch.exhaustedNotice = false;
      }
      dropped.forEach((p, i) => {
        const base = {
          deviceHex: ch.deviceHex,
          channel: ch,
          seq: p.lastSeq,
          vouchers: Number(p.lastSeq - p.newFromSeq + 1n),
        };
        if (i === 0)
          this.reject({
            stage: 'verify',
            ...base,
            reason: valid === false ? 'SIG_INVALID' : 'HUB_INTERNAL',
            detail: valid === false ? undefined : 'signature check did not run',
          } as Rejection);
        else this.reject({ stage: 'verify', ...base, reason: 'HUB_AFTER_INVALID' }, false);
      });
      this.d.controls.resync(ch, verifiedHead(ch), valid === false ? 'SIG_INVALID' : 'SEQ_GAP');
      this.commit.stateChanged(ch);
      this.releaseHeld(ch);
    } catch (err) {
      this.d.config.log('error', `ingest: unexpected ${(err as Error).stack ?? String(err)}`);
    }
  }

  /** Keeps a segment until the verdict on the unverified vouchers it conflicts with. */
  private hold(ch: LiveChannel, s: Segment, bytes: Uint8Array, arrivedAt: number): void {
    const lastSeq = segmentHeadSeq(s);
    if (ch.held.length >= this.d.config.reorderMaxPerChannel) {
      // Bounded like the reorder buffer; the device still holds it and re-sends after a RESYNC.
      return this.reject(
        {
          stage: 'sequence',
          reason: 'REORDER_OVERFLOW',
          deviceHex: ch.deviceHex,
          channel: ch,
          seq: lastSeq,
          vouchers: s.vouchers.length,
        },
        false,
      );
    }
    ch.held.push({ segment: s, firstSeq: s.firstSeq, lastSeq, bytes, arrivedAt, receivedAtMs: BigInt(this.d.now()) });
  }

  /** A verdict came in: held segments are placed again, against the channel as it now stands
   *  (those still conflicting with an unverified segment are held again). */
  private releaseHeld(ch: LiveChannel): void {
    if (ch.held.length === 0) return;
    const held = ch.held;
    ch.held = [];
    const current = this.d.registry.channels.get(ch.idHex);
    if (!current) return;
    for (const h of held) this.placeAndDrain(current, h.segment, h.bytes, h.arrivedAt);
  }

  private wait(ch: LiveChannel, s: Segment, bytes: Uint8Array, arrivedAt: number): void {
    const lastSeq = segmentHeadSeq(s);
    const outcome = bufferSegment(
      this.d.registry,
      ch,
      { segment: s, firstSeq: s.firstSeq, lastSeq, bytes, arrivedAt, receivedAtMs: BigInt(this.d.now()) },
      { perChannel: this.d.config.reorderMaxPerChannel, total: this.d.config.reorderMaxTotal },
    );
    if (outcome === 'waiting') return;
    // Full: give up on this gap. Everything waiting is refused and the device re-sends from the head.
    this.reject(
      {
        stage: 'sequence',
        reason: 'REORDER_OVERFLOW',
        deviceHex: ch.deviceHex,
        channel: ch,
        seq: lastSeq,
        vouchers: s.vouchers.length,
      },
      false,
    );
    this.giveUp(ch, 'REORDER_OVERFLOW');
  }

  /** A refusal by the embedded broker (connection, publish or subscribe), counted like the rest. */
  recordBrokerRejection(reason: Rejection['reason'], deviceHex: string | null, detail: string | undefined): void {
    this.reject(
      {
        stage: 'broker',
        reason,
        deviceHex,
        channel: null,
        seq: null,
        vouchers: 0,
        ...(detail !== undefined ? { detail } : {}),
      },
      false,
    );
  }

  /** Called on a timer: gaps older than the reorder window are given up [P-5.3]. */
  sweep(): void {
    const now = performance.now();
    if (this.d.registry.waitingTotal === 0) return;
    for (const ch of this.d.registry.channels.values()) {
      if (ch.waiting.length > 0 && gapExpired(ch, now, this.d.config.reorderWindowMs)) this.giveUp(ch, 'SEQ_GAP');
    }
  }

  private giveUp(ch: LiveChannel, reason: 'SEQ_GAP' | 'REORDER_OVERFLOW'): void {
    for (const w of dropWaiting(this.d.registry, ch)) {
      this.reject(
        {
          stage: 'sequence',
          reason: reason === 'SEQ_GAP' ? 'HUB_REORDER_EXPIRED' : 'REORDER_OVERFLOW',
          deviceHex: ch.deviceHex,
          channel: ch,
          seq: w.lastSeq,
          vouchers: w.segment.vouchers.length,
        },
        false,
      );
    }
    this.d.controls.resync(ch, verifiedHead(ch), reason);
  }

  /**
   * Counts and stores a rejection and tells the device what it can act on. `notify` false: the
   * caller sends something better (a receipt, a RESYNC) or nothing.
   */
  private reject(r: Rejection, notify = true): void {
    this.d.metrics.vouchersRejected.inc({ reason: r.reason }, r.vouchers);
    this.commit.rejected({
      atMs: BigInt(this.d.now()),
      stage: r.stage,
      reason: r.reason,
      deviceKey: r.deviceHex ? (fromHex(r.deviceHex) ?? null) : null,
      channelId: r.channel ? r.channel.id : null,
      seq: r.seq,
      vouchers: r.vouchers,
      detail: r.detail ?? null,
    });
    const ch = r.channel;
    if (!notify || !ch) return;
    if (r.reason === 'BAD_LINK') {
      // [P-5.3] a segment that does not link: ask once per head for a re-send from the head.
      const head = verifiedHead(ch);
      if (ch.resyncedAtSeq !== head.seq) this.d.controls.resync(ch, head, 'BAD_LINK');
      return;
    }
    if (r.seq !== null) this.d.controls.reject(ch, r.seq, r.reason);
    if (r.reason === 'OVER_CAPACITY') {
      markExhausted(ch);
      this.commit.stateChanged(ch);
    }
  }
}
