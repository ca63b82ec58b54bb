// Production of units: meter readings -> pending units -> vouchers signed into segments and
// committed to the outbox in ONE transaction with the meter state that produced them (steps 1 and 2
// of the order in agent.ts). It is the only part of the agent that signs and commits, and it
// decides how much may be signed: not past the channel's capacity [P-4.3], not past the backlog
// bound, nothing on a closed channel. What it commits, the link side sends.
import type { Head } from '../protocol/index.js';
import { BatchSchedule } from './batch-schedule.js';
import { buildFlush, unitsAllowed } from './chain.js';
import type { Timer } from './clock.js';
import { EMPTY_COUNTER, stepCounter, type CounterState } from './meter/counter.js';
import { formatNanos, NANO } from './meter/decimal.js';
import type { MeterState } from './outbox/types.js';
import type { AgentContext, Channel } from './state.js';
import type { Uplink } from './uplink.js';

/** Vouchers made in one transaction at most; more pending units are flushed in the next turn. */
const MAX_VOUCHERS_PER_FLUSH = 16_384;

export class Production {
  private counter: CounterState = EMPTY_COUNTER;
  private pending = 0n;
  private committedCarried = 0n;
  private meterDirty = false;
  private exhausted = false;
  private backlogLevel = 0;
  private batchTimer: Timer | undefined;
  private flushQueued = false;
  private readonly schedule: BatchSchedule;
  /** The head this agent itself signed and committed last (the object, compared by identity): a
   *  head adopted from the hub or loaded from the outbox is not one. */
  ownHead: Head | undefined;

  constructor(
    private readonly ctx: AgentContext,
    private readonly uplink: Uplink,
  ) {
    this.schedule = new BatchSchedule(ctx.o.batchMs, ctx.o.random ?? Math.random);
  }

  /** Units metered and not yet signed. */
  get pendingUnits(): bigint {
    return this.pending;
  }

  get isExhausted(): boolean {
    return this.exhausted;
  }

  /** Takes up the committed meter state: its held units are pending again. */
  load(meter: MeterState): void {
    this.counter = {
      baseline: meter.baseline === undefined ? undefined : meter.baseline * NANO + (meter.baselineNanos ?? 0n),
      remainder: meter.carriedNanos ?? 0n,
    };
    this.pending = meter.carried;
    this.committedCarried = meter.carried;
    this.schedule.restart();
  }

  /** A cumulative reading: `value` whole units and `nanos` billionths of one (meter/counter.ts). */
  onReading(value: bigint, nanos = 0n): void {
    const before = this.counter;
    const step = stepCounter(before, value * NANO + nanos, this.ctx.clock.now(), this.ctx.o.meter.wrapsAt);
    const e = step.event;
    if (e?.code === 'METER_DECREASED') {
      this.ctx.counters.counterResets++;
      this.ctx.log(e.code, `from ${formatNanos(e.from)} to ${formatNanos(e.to)}: new baseline, no units`);
    } else if (e?.code === 'METER_ROLLOVER') {
      this.ctx.counters.counterRollovers++;
      this.ctx.log(
        e.code,
        `from ${formatNanos(e.from)} to ${formatNanos(e.to)}: ${formatNanos(e.across)} units across the wrap`,
      );
    }
    this.counter = step.state;
    if (step.state.baseline !== before.baseline || step.state.remainder !== before.remainder) this.meterDirty = true;
    if (step.units === 0n) {
      if (this.meterDirty) this.armBatchTimer();
      return;
    }
    this.ctx.counters.unitsMetered += step.units;
    this.pending += step.units;
    if (this.pending >= BigInt(this.ctx.o.batch)) this.scheduleFlush();
    else this.armBatchTimer();
  }

  /** Held units (a new grant, a top-up) are signed in the next turn. */
  flushSoonIfPending(): void {
    if (this.pending > 0n) this.scheduleFlush();
  }

  /** A receipt made room in the backlog. A whole batch held for room is signed in the next turn;
   *  fewer units wait for their batch timer, as they would have without the receipt. */
  flushIfBatchHeld(): void {
    if (this.pending >= BigInt(this.ctx.o.batch)) this.scheduleFlush();
  }

  flushAll(): void {
    for (let i = 0; i < 1_000 && this.flush(true) > 0; i++);
  }

  cancelTimer(): void {
    this.batchTimer?.cancel();
  }

  private armBatchTimer(): void {
    if (this.batchTimer === undefined && this.ctx.state.running) {
      // Deadlines on a per-agent grid whose first point is jittered (batch-schedule.ts): devices
      // that start together (a site after a power cut, a simulated fleet) do not sign, publish and
      // wait for receipts in lockstep, and a busy spell does not bunch them up again.
      this.batchTimer = this.ctx.clock.after(this.schedule.delayFrom(this.ctx.clock.now()), () => {
        this.batchTimer = undefined;
        this.flush(true);
      });
    }
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    // Coalesce readings of the same turn into one transaction.
    setImmediate(() => {
      this.flushQueued = false;
      if (this.ctx.state.running) this.flush(false);
    });
  }

  /** Commits vouchers for pending units. Unless `partial`, only whole batches are signed now and
   *  the remainder waits for the batch timer. Returns the number of vouchers committed. */
  private flush(partial: boolean): number {
    this.batchTimer?.cancel();
    this.batchTimer = undefined;
    const { o, state } = this.ctx;
    const c = state.channel;
    let units = 0n;
    if (c !== undefined && this.pending > 0n && this.channelUsable(c)) {
      const allowed = unitsAllowed(c.head, c.record.pricePerUnit, c.capacity);
      if (allowed === 0n) this.setExhausted(true);
      const room = BigInt(Math.max(0, o.maxBacklog - state.outstanding));
      units = [this.pending, allowed, room, BigInt(MAX_VOUCHERS_PER_FLUSH)].reduce((a, b) => (a < b ? a : b));
      if (!partial && units === this.pending && units >= BigInt(o.batch)) units -= units % BigInt(o.batch);
      else if (!partial && units < BigInt(o.batch)) units = 0n;
      if (room === 0n) this.checkBacklog();
    } else if (c === undefined && this.pending > 0n) {
      this.ctx.logThrottled('UNITS_HELD', `${this.pending} units waiting for a channel`);
    }
    if (units === 0n) {
      if (this.meterDirty || this.pending !== this.committedCarried) this.saveMeter();
      if (this.pending > 0n) this.armBatchTimer();
      return 0;
    }
    const n = Number(units);
    const built = buildFlush({
      channelId: c!.channelId,
      head: c!.head,
      units: n,
      pricePerUnit: c!.record.pricePerUnit,
      batch: o.batch,
      deviceTimeMs: BigInt(this.ctx.clock.now()),
      secretKey: o.keyPair.secretKey,
      meter: this.meterState(this.pending - units),
      ...(o.backend ? { backend: o.backend } : {}),
    });
    this.ctx.crash('before-commit');
    try {
      o.store.commit(built.record);
    } catch (err) {
      this.ctx.log('FLUSH_FAILED', (err as Error).message);
      this.armBatchTimer();
      return 0;
    }
    this.ctx.crash('after-commit');
    this.meterDirty = false;
    this.pending -= units;
    this.committedCarried = this.pending;
    c!.head = built.record.head;
    this.ownHead = c!.head;
    state.outstanding += n;
    this.ctx.counters.vouchersCommitted += units;
    this.ctx.counters.segmentsCommitted += built.segments.length;
    this.checkBacklog();
    this.ctx.events.emit('committed', built.record.vouchers[0]!.seq, built.record.head.seq);
    this.uplink.committed(built.segments);
    this.uplink.pump();
    if (this.pending >= BigInt(o.batch)) this.scheduleFlush();
    else if (this.pending > 0n) this.armBatchTimer();
    return n;
  }

  private saveMeter(): void {
    try {
      this.ctx.o.store.saveMeter(this.meterState(this.pending));
      this.meterDirty = false;
      this.committedCarried = this.pending;
    } catch (err) {
      this.ctx.log('FLUSH_FAILED', (err as Error).message);
    }
  }

  /** The counter as committed: whole units plus the billionths the counter carries. */
  private meterState(carried: bigint): MeterState {
    const { baseline, remainder } = this.counter;
    const fraction = baseline === undefined ? 0n : baseline % NANO;
    return {
      baseline: baseline === undefined ? undefined : baseline / NANO,
      carried,
      ...(fraction !== 0n ? { baselineNanos: fraction } : {}),
      ...(remainder !== 0n ? { carriedNanos: remainder } : {}),
    };
  }

  private channelUsable(c: Channel): boolean {
    const { state } = this.ctx;
    const expired = c.record.expiresAtMs !== 0n && BigInt(this.ctx.clock.now()) >= c.record.expiresAtMs;
    if (c.state === 'closed' || c.state === 'revoked' || expired) {
      if (!state.closedLogged) this.ctx.log('CHANNEL_CLOSED', expired ? 'expired' : c.state);
      state.closedLogged = true;
      return false;
    }
    if (c.state === 'exhausted') {
      this.setExhausted(true);
      return false;
    }
    return true;
  }

  setExhausted(now: boolean): void {
    if (now === this.exhausted) return;
    this.exhausted = now;
    const c = this.ctx.state.channel;
    this.ctx.log(
      now ? 'CHANNEL_EXHAUSTED' : 'CHANNEL_RESUMED',
      c === undefined ? undefined : `capacity ${c.capacity}, signed ${c.head.cumAmount}, ${this.pending} units held`,
    );
    this.uplink.sendStatus(now ? 'exhausted' : 'online');
  }

  checkBacklog(): void {
    const { o, state } = this.ctx;
    const ratio = state.outstanding / o.maxBacklog;
    const level = ratio >= 1 ? 3 : ratio >= 0.8 ? 2 : ratio >= 0.5 ? 1 : 0;
    if (level > this.backlogLevel) {
      this.ctx.log(
        level === 3 ? 'BACKLOG_FULL' : 'BACKLOG_HIGH',
        `${state.outstanding} of ${o.maxBacklog} vouchers unacknowledged`,
      );
    }
    this.backlogLevel = level;
  }
}
