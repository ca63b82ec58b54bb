// The ingest pipeline, in the protocol's words [P-4.5]:
//   decode -> authorize -> sequence -> link -> signature -> voucher rules -> expiry/apply
//          -> persist -> receipt
// Each step lives in its own file and either passes a value on or stops the message with a
// rejection. A rejection is counted (metrics and SQLite) with the first failing reason in that
// order, and never changes a balance. Nothing a device did not sign changes state: what a refusal
// does besides being counted (REJECT or RESYNC to the device, the channel marked exhausted, a
// place in the reorder buffer) happens only once the refused segment is known to carry the
// device's signature. docs/reliability.md lists every state change the network can reach.
// Nothing here throws on input: a bug that does is caught, counted and logged, and the hub keeps
// running.
// The pipeline runs on the event loop without waiting on the store, except for the rare segment
// that needs a stored voucher (a duplicate or an overlap of the head, an equivocation's kept
// evidence): that channel's later segments queue behind it until the store answers, so none
// overtakes it; other channels go on.

import { performance } from 'node:perf_hooks';
import { fromHex, segmentHeadSeq, type Segment } from '../../protocol/index.js';
import type { HubConfig } from '../base/config.js';
import type { Controls } from '../model/controls.js';
import { headFromRow } from '../model/chain.js';
import { pendingHead, verifiedHead, type LiveChannel, type PendingSegment, type Registry } from '../model/registry.js';
import type { HubMetrics } from '../base/metrics.js';
import type { EquivocationRow, HubStore } from '../store/types.js';
import type { Head } from '../../protocol/index.js';
import { applyStep, confirmSigned, markExhausted } from './apply.js';
import { authorizeStep } from './authorize.js';
import { GroupCommit } from './commit.js';
import type { WebhookAlerts } from '../model/webhook-alerts.js';
import { decodeStep } from './decode.js';
import { bufferSegment, dropWaiting, gapExpired, takeReady } from './reorder.js';
import { sequenceStep } from './sequence.js';
import type { SignatureVerifier } from './signature-pool.js';
import type { Rejection } from './types.js';
import { Verdicts, type Verdict } from './verdicts.js';
import { signedByDevice, verifyStep, type VerifyOutcome } from './verify.js';

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
  /** Cluster mode: whether this hub still owns the channel's device (GroupCommitOptions.owns). */
  owns?: (ch: LiveChannel) => boolean;
  /** Webhook events written with the group commit; absent = none. */
  alerts?: WebhookAlerts;
  onEvents?: (count: number) => void;
}

/** True while a voucher at or below `seq` of the live chain waits for its signature verdict. */
function awaitsVerdict(ch: LiveChannel, seq: bigint): boolean {
  return ch.pending.some((p) => p.signature === 'pending' && p.newFromSeq <= seq);
}

const lastSeqOf = segmentHeadSeq;

/** What the store told one placement: stored heads by seq (null = none) and a channel's evidence. */
interface Fetched {
  heads: Map<bigint, Head | null>;
  evidence?: EquivocationRow[];
}

/** A segment to place later, in arrival order, while its channel waits for the store. */
interface Deferred {
  s: Segment;
  bytes: Uint8Array;
  arrivedAt: number;
  signed: boolean;
  fetched?: Fetched;
}

export class IngestPipeline {
  readonly commit: GroupCommit;
  private readonly verdicts: Verdicts;
  /** Channels (by id hex) waiting for a store read, with the segments that arrived meanwhile. */
  private readonly fetching = new Map<string, Deferred[]>();
  private fetchesInFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly d: PipelineDeps) {
    this.commit = new GroupCommit(d.store, d.registry, d.controls, d.metrics, {
      maxSegments: d.config.commitMaxSegments,
      delayMs: d.config.commitDelayMs,
      rejectionLogLimit: d.config.rejectionLogLimit,
      log: d.config.log,
      now: d.now,
      ...(d.owns ? { owns: d.owns } : {}),
      ...(d.alerts ? { alerts: d.alerts } : {}),
      ...(d.onEvents ? { onEvents: d.onEvents } : {}),
    });
    this.verdicts = new Verdicts({
      pool: d.pool,
      registry: d.registry,
      stopped: () => this.commit.isStopped,
      onError: (err) => this.internalError(err),
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
      if (!authorized.ok) {
        const r = authorized.rejection;
        this.reject(r);
        // A closed channel is the hub's own state, but a REJECT saying so goes only to a device
        // that signed the refused segment.
        if (r.channel) this.verdicts.ofSegment(r.channel, m.segment, (valid, ch) => valid === true && this.tell(ch, r));
        return;
      }
      this.placeAndDrain(authorized.value, m.segment, m.bytes, arrivedAt, false);
    } catch (err) {
      this.internalError(err);
    }
  }

  private internalError(err: unknown): void {
    this.d.config.log.reason('error', 'HUB_INTERNAL', { err });
    this.d.metrics.vouchersRejected.inc({ reason: 'HUB_INTERNAL' });
  }

  /** Resolves once no channel waits for a store read (every segment received so far is placed). */
  async placed(): Promise<void> {
    while (this.fetchesInFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** `signed`: the segment's own signature is already known to hold (it waited for the verdict). */
  private placeAndDrain(
    ch: LiveChannel,
    s: Segment,
    bytes: Uint8Array,
    arrivedAt: number,
    signed: boolean,
    fetched?: Fetched,
  ): void {
    this.place(ch, s, bytes, arrivedAt, signed, fetched);
    // Segments that were waiting for this one may follow it now.
    for (let w = takeReady(this.d.registry, ch); w; w = takeReady(this.d.registry, ch)) {
      this.place(ch, w.segment, w.bytes, w.arrivedAt, true);
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

  /** sequence -> link -> signature -> rules -> apply for one segment of an authorized channel. */
  private place(
    ch: LiveChannel,
    s: Segment,
    bytes: Uint8Array,
    arrivedAt: number,
    signed: boolean,
    fetched?: Fetched,
  ): void {
    const behind = this.fetching.get(ch.idHex);
    if (behind) return void behind.push({ s, bytes, arrivedAt, signed });
    const vouchers = s.vouchers.length;
    const base = { deviceHex: ch.deviceHex, channel: ch, seq: lastSeqOf(s), vouchers };
    const placement = sequenceStep(ch, s, fetched?.heads);
    switch (placement.kind) {
      case 'fetch': {
        const seq = placement.seq;
        return this.fetchThenPlace(ch, { s, bytes, arrivedAt, signed }, fetched, async (f) => {
          f.heads.set(seq, headFromRow(await this.d.store.segmentContaining(ch.id, seq), seq));
        });
      }
      case 'gap':
        if (signed) return this.wait(ch, s, bytes, arrivedAt);
        // Only a segment the device signed takes a place in the bounded reorder buffer: forgeries
        // could otherwise fill it and push the device's own segments out.
        return this.verdicts.ofSegment(ch, s, (valid, current) =>
          valid === true ? this.placeAndDrain(current, s, bytes, arrivedAt, true) : this.unsigned(current, s, valid),
        );
      case 'duplicate':
        // [P-5.3] acknowledged again with the current receipt, not counted. The receipt is the one
        // already published, so a copy with any signature learns nothing and changes nothing.
        this.d.metrics.duplicates.inc();
        this.commit.duplicate(ch);
        return this.reject({ stage: 'sequence', reason: 'DUPLICATE', ...base });
      case 'lost':
        this.d.config.log.event('HISTORY_MISSING', { channel: ch.idHex, seq: placement.seq.toString() });
        return this.reject({
          stage: 'sequence',
          reason: 'SEQ_STALE',
          ...base,
          detail: `history missing at ${placement.seq}`,
        });
      case 'conflict': {
        if (!signedByDevice(ch, s, placement.incomingHashes)) {
          return this.reject({
            stage: 'verify',
            reason: 'SIG_INVALID',
            ...base,
            detail: 'conflicting segment, bad signature',
          });
        }
        // The stored side is not known to be signed yet (a forgery may have been chained first):
        // judge only once the worker has answered. Equivocation is between two signed chains.
        if (awaitsVerdict(ch, placement.seq)) return this.hold(ch, s, bytes, arrivedAt);
        // Two different signed vouchers for one seq (a cloned or restored device): keep the
        // second as evidence, flag the channel, count only the first [DESIGN: equivocation].
        // A restored device re-sends the same conflicting segment on every receipt timeout: it is
        // refused each time, but kept once, so the evidence table cannot grow without bound.
        const kept = this.commit.hasEvidence(ch, placement.seq, bytes, fetched?.evidence);
        if (kept === 'fetch') {
          return this.fetchThenPlace(ch, { s, bytes, arrivedAt, signed }, fetched, async (f) => {
            f.evidence = await this.d.store.listEquivocations(ch.id);
          });
        }
        if (!kept) {
          this.commit.evidence(ch, {
            channelId: ch.id,
            seq: placement.seq,
            storedHash: placement.storedHash,
            segment: bytes,
            detectedAtMs: BigInt(this.d.now()),
          });
          this.d.config.log.reason('warn', 'EQUIVOCATION', { channel: ch.idHex, seq: placement.seq.toString() });
        }
        const r: Rejection = { stage: 'sequence', reason: 'EQUIVOCATION', ...base, detail: `seq ${placement.seq}` };
        this.reject(r);
        return this.tell(ch, r);
      }
      case 'next':
      case 'tail': {
        const verified = verifyStep(ch, s, placement.prev, this.d.pool);
        if (!verified.ok) return this.refused(ch, s, verified);
        const { check } = verified;
        const applied = applyStep(
          ch,
          s,
          verified.verified,
          placement.newFromSeq,
          bytes,
          this.d.now(),
          arrivedAt,
          check ? 'pending' : 'ok',
        );
        // Apply runs after verify passed: without a worker the signature is known to hold.
        if (!applied.ok) return this.refused(ch, s, { ok: false, rejection: applied.rejection, signed: !check, check });
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
   * Holds the channel's later segments back while `load` reads the store, then places this segment
   * again with what was read, then the held ones in arrival order. A read that fails is counted as
   * an internal error and the segment is dropped unacknowledged (the device re-sends it).
   */
  private fetchThenPlace(
    ch: LiveChannel,
    item: Deferred,
    fetched: Fetched | undefined,
    load: (f: Fetched) => Promise<void>,
  ): void {
    const f = fetched ?? { heads: new Map() };
    this.fetching.set(ch.idHex, []);
    this.fetchesInFlight++;
    load(f)
      .then(
        () => this.resume(ch.idHex, { ...item, fetched: f }),
        (err: unknown) => {
          this.internalError(err);
          this.resume(ch.idHex, undefined);
        },
      )
      .finally(() => {
        if (--this.fetchesInFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
  }

  private resume(idHex: string, first: Deferred | undefined): void {
    try {
      const queue = this.fetching.get(idHex) ?? [];
      this.fetching.delete(idHex);
      // Shutting down: nothing more is committed; the devices still hold these and re-send.
      if (this.commit.isStopped) return;
      const all = first ? [first, ...queue] : queue;
      for (let i = 0; i < all.length; i++) {
        const again = this.fetching.get(idHex);
        if (again) return void again.push(...all.slice(i));
        const ch = this.d.registry.channels.get(idHex);
        if (!ch) return;
        const d = all[i]!;
        this.placeAndDrain(ch, d.s, d.bytes, d.arrivedAt, d.signed, d.fetched);
      }
    } catch (err) {
      this.internalError(err);
    }
  }

  /**
   * A refusal from verify or apply, acted on in the order of [P-4.5]. Before the signature (a bad
   * link): counted as such, and the RESYNC it asks for waits for the signature. After it (a voucher
   * rule, expiry): the reason stands only if the signature holds; with a worker still checking it,
   * the refusal is counted when the verdict is in, as SIG_INVALID if the signature failed.
   */
  private refused(ch: LiveChannel, s: Segment, outcome: Extract<VerifyOutcome, { ok: false }>): void {
    const r = outcome.rejection;
    if (outcome.check) {
      return this.verdicts.of(ch, outcome.check, (valid, current) => {
        if (valid !== true) return this.unsigned(current, s, valid);
        const known = { ...r, channel: current };
        this.reject(known);
        this.tell(current, known);
      });
    }
    this.reject(r);
    if (r.reason === 'BAD_LINK') return this.resyncIfSigned(ch, s);
    if (outcome.signed) this.tell(ch, r);
  }

  /** [P-5.3] a segment that does not link: ask once per head for a re-send from the verified head,
   *  and only if the device signed the segment (a forgery must not make the device rewind). */
  private resyncIfSigned(ch: LiveChannel, s: Segment): void {
    if (ch.resyncedAtSeq === verifiedHead(ch).seq) return; // already asked: no signature check needed
    this.verdicts.ofSegment(ch, s, (valid, current) => {
      if (valid !== true) return;
      const head = verifiedHead(current);
      if (current.resyncedAtSeq !== head.seq) this.d.controls.resync(current, head, 'BAD_LINK');
    });
  }

  /** A segment whose signature failed (or could not be checked): counted, and nothing else. */
  private unsigned(ch: LiveChannel, s: Segment, valid: false | undefined): void {
    this.reject({
      stage: 'verify',
      reason: valid === false ? 'SIG_INVALID' : 'HUB_INTERNAL',
      deviceHex: ch.deviceHex,
      channel: ch,
      seq: lastSeqOf(s),
      vouchers: s.vouchers.length,
      ...(valid === false ? {} : { detail: 'signature check did not run' }),
    });
  }

  /**
   * A worker's verdict on a segment already chained in memory. Valid: it may be committed, and may
   * now change the channel (exhaust it). Invalid (or not checkable): it and every segment chained
   * after it are dropped, the live head goes back to the segment before, and the device is asked
   * to re-send from there [P-5.3], once per verified head.
   */
  private signatureChecked(ch: LiveChannel, entry: PendingSegment, valid: Verdict): void {
    try {
      if (this.commit.isStopped) return; // shutting down: nothing more is committed or sent
      const k = ch.pending.indexOf(entry);
      if (k < 0 || this.d.registry.channels.get(ch.idHex) !== ch) return this.releaseHeld(ch); // rolled back meanwhile
      if (valid === true) {
        confirmSigned(ch, entry);
        this.commit.stateChanged(ch);
        return this.releaseHeld(ch);
      }
      const dropped = ch.pending.splice(k);
      const before = ch.pending[k - 1];
      ch.head = before ? pendingHead(before) : ch.durable;
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
            ...(valid === false ? {} : { detail: 'signature check did not run' }),
          });
        else this.reject({ stage: 'verify', ...base, reason: 'HUB_AFTER_INVALID' });
      });
      // A copy of the device's own segment may have been taken as a duplicate of the dropped one,
      // so the device is asked to re-send; at most once per verified head, so forgeries cannot
      // make it rewind again and again.
      const head = verifiedHead(ch);
      if (ch.resyncedAtSeq !== head.seq) this.d.controls.resync(ch, head, valid === false ? 'SIG_INVALID' : 'SEQ_GAP');
      this.commit.stateChanged(ch);
      this.releaseHeld(ch);
    } catch (err) {
      this.d.config.log.reason('error', 'HUB_INTERNAL', { err });
    }
  }

  /** Keeps a signed segment until the verdict on the unverified vouchers it conflicts with. */
  private hold(ch: LiveChannel, s: Segment, bytes: Uint8Array, arrivedAt: number): void {
    const lastSeq = lastSeqOf(s);
    if (ch.held.length >= this.d.config.reorderMaxPerChannel) {
      // Bounded like the reorder buffer; the device still holds it and re-sends after a RESYNC.
      return this.reject({
        stage: 'sequence',
        reason: 'REORDER_OVERFLOW',
        deviceHex: ch.deviceHex,
        channel: ch,
        seq: lastSeq,
        vouchers: s.vouchers.length,
      });
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
    for (const h of held) this.placeAndDrain(current, h.segment, h.bytes, h.arrivedAt, false);
  }

  /** A signed segment beyond head + 1 waits for the gap before it [P-5.3]. */
  private wait(ch: LiveChannel, s: Segment, bytes: Uint8Array, arrivedAt: number): void {
    const lastSeq = lastSeqOf(s);
    const outcome = bufferSegment(
      this.d.registry,
      ch,
      { segment: s, firstSeq: s.firstSeq, lastSeq, bytes, arrivedAt, receivedAtMs: BigInt(this.d.now()) },
      { perChannel: this.d.config.reorderMaxPerChannel, total: this.d.config.reorderMaxTotal },
    );
    if (outcome === 'waiting') return;
    // Full: give up on this gap. Everything waiting is refused and the device re-sends from the head.
    this.reject({
      stage: 'sequence',
      reason: 'REORDER_OVERFLOW',
      deviceHex: ch.deviceHex,
      channel: ch,
      seq: lastSeq,
      vouchers: s.vouchers.length,
    });
    this.giveUp(ch, 'REORDER_OVERFLOW');
  }

  /** A refusal by the embedded broker (connection, publish or subscribe), counted like the rest. */
  recordBrokerRejection(reason: Rejection['reason'], deviceHex: string | null, detail: string | undefined): void {
    this.reject({
      stage: 'broker',
      reason,
      deviceHex,
      channel: null,
      seq: null,
      vouchers: 0,
      ...(detail !== undefined ? { detail } : {}),
    });
  }

  /** Called on a timer: gaps older than the reorder window are given up [P-5.3]. */
  sweep(): void {
    const now = performance.now();
    if (this.d.registry.waitingTotal === 0) return;
    // Only the channels with a gap (a copy: giving up removes a channel from the set).
    for (const ch of [...this.d.registry.waitingChannels]) {
      if (ch.waiting.length > 0 && gapExpired(ch, now, this.d.config.reorderWindowMs)) this.giveUp(ch, 'SEQ_GAP');
    }
  }

  private giveUp(ch: LiveChannel, reason: 'SEQ_GAP' | 'REORDER_OVERFLOW'): void {
    for (const w of dropWaiting(this.d.registry, ch)) {
      this.reject({
        stage: 'sequence',
        reason: reason === 'SEQ_GAP' ? 'HUB_REORDER_EXPIRED' : 'REORDER_OVERFLOW',
        deviceHex: ch.deviceHex,
        channel: ch,
        seq: w.lastSeq,
        vouchers: w.segment.vouchers.length,
      });
    }
    this.d.controls.resync(ch, verifiedHead(ch), reason);
  }

  /** Counts and stores a rejection. Whatever else a refusal does is the caller's, and only for a
   *  segment the device signed (`tell`). */
  private reject(r: Rejection): void {
    this.d.metrics.vouchersRejected.inc({ reason: r.reason }, r.vouchers);
    // A flood of refusals is the hot path of an attack: a line per refusal only at debug, and the
    // level is checked before the fields are built. Counts are in metrics and the database.
    const log = this.d.config.log;
    if (log.enabled('debug')) {
      log.reason('debug', r.reason, {
        stage: r.stage,
        device: r.deviceHex,
        channel: r.channel?.idHex ?? null,
        seq: r.seq?.toString() ?? null,
        vouchers: r.vouchers,
        ...(r.detail !== undefined ? { detail: r.detail } : {}),
      });
    }
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
  }

  /** Tells the device about the refusal of a segment it signed [P-7.3, P-7.4]. */
  private tell(ch: LiveChannel, r: Rejection): void {
    if (r.seq !== null) this.d.controls.reject(ch, r.seq, r.reason);
    if (r.reason === 'OVER_CAPACITY') {
      markExhausted(ch);
      this.commit.stateChanged(ch);
    }
  }
}
