// Steps 6 and 7, persist and receipt: the group commit. Accepted segments, head moves, rejections
// and equivocation evidence gathered since the last commit are written in ONE store transaction;
// only after it is durable are the receipts published [P-5.2]. One receipt per channel per commit
// covers every segment of that channel in it.
// One commit is in flight at a time; what arrives meanwhile gathers for the next, which starts
// when the first is done (so a slow store makes bigger batches, not a queue of transactions).
// Management writes run in the same line (exclusive), so no group commit interleaves with them.

import { performance } from 'node:perf_hooks';
import type { Controls } from '../model/controls.js';
import { bytesEqual, type Head } from '../../protocol/index.js';
import { pendingHead, type LiveChannel, type Registry } from '../model/registry.js';
import type { HubMetrics } from '../base/metrics.js';
import type { HubLog } from '../base/log-codes.js';
import type { CommitBatch, EquivocationRow, HeadUpdate, HubStore, RejectionRow, SegmentRow } from '../store/types.js';
import type { OutboxEvent } from '../store/outbox-types.js';
import type { WebhookAlerts } from '../model/webhook-alerts.js';
import { deviceEvents } from '../model/webhook-events.js';
import { dropWaiting } from './reorder.js';

/** Evidence rows kept in memory across failed commits (each up to a 24 KiB segment). */
const MAX_HELD_EVIDENCE = 1_000;

export interface GroupCommitOptions {
  maxSegments: number;
  delayMs: number;
  rejectionLogLimit: number;
  log: HubLog;
  now: () => number;
  /** Cluster mode: whether this hub still owns the channel's partition. After a refused commit a
   *  channel owned elsewhere now is left to its owner (no RESYNC from here). Default: always. */
  owns?: (ch: LiveChannel) => boolean;
  /** Webhook events to write with each commit (docs/webhooks.md); absent = none. */
  alerts?: WebhookAlerts;
  /** Called after a commit that wrote events, so the delivery loop looks at once. */
  onEvents?: (count: number) => void;
}

export class GroupCommit {
  /** Channels with accepted segments or a state change waiting for the commit. */
  private readonly touched = new Set<LiveChannel>();
  /** Channels that received an exact duplicate and are owed the current receipt [P-5.3]. */
  private readonly reack = new Set<LiveChannel>();
  private rejections: RejectionRow[] = [];
  private equivocations: EquivocationRow[] = [];
  /** Webhook events of the evidence above (device.equivocation), written with it. */
  private evidenceEvents: OutboxEvent[] = [];
  private equivocated = new Set<LiveChannel>();
  /** Credential floors to write, by device (the highest issuedAtMs). */
  private floors = new Map<string, { deviceKey: Uint8Array; issuedAtMs: bigint }>();
  private pendingSegments = 0;
  private scheduled = false;
  /** A commit task is queued behind the one in flight; it will take everything gathered by then. */
  private queued = false;
  /** The line of store work: group commits and exclusive management writes, one at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  private commitsSincePrune = 0;
  private stopped = false;

  constructor(
    private readonly store: HubStore,
    private readonly registry: Registry,
    private readonly controls: Controls,
    private readonly metrics: HubMetrics,
    private readonly options: GroupCommitOptions,
  ) {}

  accepted(ch: LiveChannel): void {
    this.touched.add(ch);
    this.pendingSegments++;
    if (this.pendingSegments >= this.options.maxSegments) this.kick();
    else this.schedule();
  }

  stateChanged(ch: LiveChannel): void {
    this.touched.add(ch);
    this.schedule();
  }

  duplicate(ch: LiveChannel): void {
    this.reack.add(ch);
    this.schedule();
  }

  rejected(row: RejectionRow): void {
    this.rejections.push(row);
    this.schedule();
  }

  evidence(ch: LiveChannel, row: EquivocationRow): void {
    this.equivocations.push(row);
    this.equivocated.add(ch);
    const alerts = this.options.alerts;
    if (alerts)
      this.evidenceEvents.push(
        deviceEvents.equivocation(alerts.source, { ...row, deviceKey: ch.deviceKey }, row.detectedAtMs),
      );
    this.schedule();
  }

  /** A broker credential was accepted: its issuedAtMs is the device's floor from now on [P-6.4]. */
  credentialUsed(deviceKey: Uint8Array, issuedAtMs: bigint): void {
    const hex = Buffer.from(deviceKey).toString('hex');
    const known = this.floors.get(hex);
    if (!known || known.issuedAtMs < issuedAtMs) this.floors.set(hex, { deviceKey, issuedAtMs });
    this.schedule();
  }

  /**
   * True when this exact conflicting segment is already kept as evidence (or about to be); 'fetch'
   * when only the stored evidence of the channel (`stored`, fetched by the caller) can tell.
   */
  hasEvidence(
    ch: LiveChannel,
    seq: bigint,
    segment: Uint8Array,
    stored?: readonly EquivocationRow[],
  ): boolean | 'fetch' {
    const same = (e: { channelId: Uint8Array; seq: bigint; segment: Uint8Array }) =>
      e.seq === seq && bytesEqual(e.channelId, ch.id) && bytesEqual(e.segment, segment);
    if (this.equivocations.some(same)) return true;
    return stored ? stored.some(same) : 'fetch';
  }

  /** The channel's partition went to another hub: nothing gathered for it is written or
   *  acknowledged here (a commit already in flight is the fence's to refuse or accept). */
  forget(ch: LiveChannel): void {
    if (this.touched.delete(ch)) this.pendingSegments = Math.max(0, this.pendingSegments - ch.pending.length);
    this.reack.delete(ch);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  get idle(): boolean {
    return (
      this.touched.size === 0 &&
      this.reack.size === 0 &&
      this.rejections.length === 0 &&
      this.equivocations.length === 0 &&
      this.evidenceEvents.length === 0 &&
      this.floors.size === 0
    );
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // The end of the current I/O turn: every message already read from the socket joins this commit.
    const go = () => {
      this.scheduled = false;
      this.kick();
    };
    if (this.options.delayMs > 0) setTimeout(go, this.options.delayMs);
    else setImmediate(go);
  }

  /** Queues a group commit unless one is already waiting (it will take what gathers meanwhile). */
  private kick(): void {
    if (this.queued) return;
    this.queued = true;
    void this.inLine(() => {
      this.queued = false;
      return this.commitGathered();
    });
  }

  private inLine<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Final commit at shutdown; anything that arrives later is dropped unacknowledged (the device
   *  still holds it and re-sends). */
  stop(): Promise<void> {
    return this.inLine(async () => {
      await this.commitGathered();
      this.stopped = true;
    });
  }

  /** Resolves once everything gathered before the call is committed (or refused) and receipted. */
  flush(): Promise<void> {
    return this.inLine(() => this.commitGathered());
  }

  /**
   * Commits what is gathered, then runs `task` before any later group commit: a management write
   * (top-up, revoke, settle) sees durable state and no commit of the ingest interleaves with it.
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.inLine(async () => {
      await this.commitGathered();
      return task();
    });
  }

  /** Commits everything gathered so far, then publishes receipts and notices. Never throws. */
  private async commitGathered(): Promise<void> {
    if (this.stopped || this.idle) return;
    const channels = [...this.touched];
    const reack = [...this.reack];
    const nowMs = BigInt(this.options.now());
    const segments: SegmentRow[] = [];
    const heads: HeadUpdate[] = [];
    const receipts = new Map<LiveChannel, Uint8Array>();
    const events: OutboxEvent[] = [...this.evidenceEvents];
    const alerts = this.options.alerts;
    // Per channel, only the prefix of segments whose signature is confirmed can be committed; the
    // rest wait for their worker (and keep the channel in the next commit).
    const ready = new Map<LiveChannel, { count: number; head: Head }>();
    for (const ch of channels) {
      let count = 0;
      while (count < ch.pending.length && ch.pending[count]!.signature === 'ok') count++;
      const head = count > 0 ? pendingHead(ch.pending[count - 1]!) : ch.durable;
      ready.set(ch, { count, head });
      for (let i = 0; i < count; i++) {
        const p = ch.pending[i]!;
        const last = pendingHead(p);
        segments.push({
          channelId: ch.id,
          firstSeq: p.firstSeq,
          newFromSeq: p.newFromSeq,
          lastSeq: p.lastSeq,
          headHash: last.hash,
          cumUnits: last.cumUnits,
          cumAmount: last.cumAmount,
          bytes: p.bytes,
          receivedAtMs: p.receivedAtMs,
        });
      }
      const advanced = head.seq !== ch.durable.seq;
      // Segments still waiting for their signature come back here when their worker answers.
      if (!advanced && !ch.stateDirty) continue;
      const receipt = advanced ? this.controls.receiptFor(ch, head) : null;
      if (receipt) receipts.set(ch, receipt);
      heads.push({ channelId: ch.id, expectedSeq: ch.durable.seq, head, state: ch.state, receipt, atMs: nowMs });
      if (alerts) events.push(...alerts.commitEvents(ch, ch.durable, head, ch.exhaustedEvent === true, nowMs));
      // Written now: a state change while this commit is in flight marks the channel dirty again
      // (and an exhaustion then is a new event).
      ch.stateDirty = false;
      ch.exhaustedEvent = false;
    }
    const batch: CommitBatch = {
      segments,
      heads,
      rejections: this.rejections,
      equivocations: this.equivocations,
      equivocatedChannels: [...this.equivocated].map((c) => c.id),
      credentialFloors: [...this.floors.values()],
      events,
    };
    this.touched.clear();
    // Idle now that the touched channels are taken: no rejection, evidence, floor or re-ack either.
    if (segments.length === 0 && heads.length === 0 && this.equivocated.size === 0 && this.idle) {
      // Every touched channel waits for a signature verdict, which touches it again: a transaction
      // with nothing in it would only cost a store round trip. At a few segments a second this was
      // every other commit (the commit's turn came before the signature pool's).
      this.pendingSegments = 0;
      return;
    }
    this.reack.clear();
    this.rejections = [];
    this.equivocations = [];
    this.evidenceEvents = [];
    this.equivocated = new Set();
    this.floors = new Map();
    this.pendingSegments = 0;

    try {
      await this.store.commit(batch);
    } catch (err) {
      try {
        await this.failed(channels, batch, err);
      } catch (again) {
        this.options.log.event('COMMIT_RELOAD_FAILED', { err: again });
      }
      return;
    }
    if (++this.commitsSincePrune >= 1000) {
      this.commitsSincePrune = 0;
      try {
        await this.store.pruneRejections(this.options.rejectionLogLimit);
      } catch (err) {
        this.options.log.event('REJECTION_PRUNE_FAILED', { err });
      }
    }
    this.metrics.commitBatch.observe(segments.length);
    for (const e of batch.equivocatedChannels) {
      const ch = this.registry.channels.get(Buffer.from(e).toString('hex'));
      if (ch) {
        ch.equivocated = true;
        this.registry.noteChannel(ch);
      }
    }
    const committedAt = performance.now();
    for (const ch of channels) {
      const { count, head } = ready.get(ch)!;
      const committed = ch.pending.splice(0, count);
      this.metrics.segmentsAccepted.inc(committed.length);
      this.metrics.vouchersAccepted.inc(Number(head.seq - ch.durable.seq));
      this.metrics.unitsAccepted.inc(Number(head.cumUnits - ch.durable.cumUnits));
      this.metrics.amountAccepted.inc(Number(head.cumAmount - ch.durable.cumAmount));
      ch.durable = head;
      this.registry.noteChannel(ch);
      const receipt = receipts.get(ch);
      if (receipt) {
        ch.lastReceipt = receipt;
        this.controls.publishReceipt(ch, receipt);
      }
      // Stamped per channel after its own receipt: the channels of one large commit wait for the
      // receipts published before theirs, and that wait is the hub's.
      const receiptAt = performance.now();
      for (const p of committed) this.metrics.observeSegment(ch.idHex, p.lastSeq, p.arrivedAt, committedAt, receiptAt);
      // Tell the device only once the head that exhausted the channel is committed [P-7.3].
      if (ch.exhaustedNotice && ch.pending.length === 0) {
        ch.exhaustedNotice = false;
        this.controls.capacity(ch);
      }
    }
    if (events.length > 0) this.options.onEvents?.(events.length);
    for (const ch of reack) {
      // A duplicate for a channel committed just now already got its fresh receipt above.
      if (!receipts.has(ch) && ch.lastReceipt) this.controls.publishReceipt(ch, ch.lastReceipt);
    }
  }

  /**
   * The database refused the batch: forget the segments it held and ask each device to resync (the
   * devices still hold them). Rejection rows and equivocation evidence are the hub's own record,
   * which no device re-sends: they wait for the next commit, bounded so a disk that stays full
   * cannot grow memory without limit.
   */
  private async failed(channels: LiveChannel[], batch: CommitBatch, err: unknown): Promise<void> {
    this.rejections = [...batch.rejections, ...this.rejections].slice(-Math.max(1, this.options.rejectionLogLimit));
    this.equivocations = [...batch.equivocations, ...this.equivocations].slice(-MAX_HELD_EVIDENCE);
    // Channel events are derived again when the devices re-send; the evidence's own wait with it.
    this.evidenceEvents = [
      ...(batch.events ?? []).filter((e) => e.type === 'device.equivocation'),
      ...this.evidenceEvents,
    ].slice(-MAX_HELD_EVIDENCE);
    // The floors hold in memory (the registry) whatever happens; the write waits for the next
    // commit, like the rows above (not scheduled here, so a full disk is not retried in a loop).
    for (const f of batch.credentialFloors ?? []) {
      const hex = Buffer.from(f.deviceKey).toString('hex');
      const known = this.floors.get(hex);
      if (!known || known.issuedAtMs < f.issuedAtMs) this.floors.set(hex, f);
    }
    this.metrics.commitFailures.inc();
    this.options.log.reason('error', 'HUB_COMMIT_FAILED', {
      stage: 'persist',
      channels: channels.length,
      error: (err as Error).message,
    });
    for (const ch of channels) {
      this.metrics.vouchersRejected.inc({ reason: 'HUB_COMMIT_FAILED' }, Number(ch.head.seq - ch.durable.seq));
      dropWaiting(this.registry, ch);
      await this.registry.reloadChannel(this.store, ch.idHex);
      // Segments placed on the old live channel while it reloaded are dropped with it (the device
      // re-sends them after the RESYNC); the next commit must not write them.
      this.touched.delete(ch);
      this.reack.delete(ch);
      const fresh = this.registry.channels.get(ch.idHex);
      if (fresh && (this.options.owns?.(fresh) ?? true)) this.controls.resync(fresh, fresh.durable, 'SEQ_GAP');
    }
    for (const id of batch.equivocatedChannels) {
      const ch = this.registry.channels.get(Buffer.from(id).toString('hex'));
      if (ch) this.equivocated.add(ch);
    }
  }
}
