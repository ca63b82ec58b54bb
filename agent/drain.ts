// Sends the outbox in seq order with a bounded window of segments that wait for a receipt. What
// was sent is forgotten on every new connection, resync or receipt timeout: the outbox, not the
// MQTT client's memory, says what must still go out [P-5.2, P-5.3].
import { encodeSegment } from '../protocol/index.js';
import type { Clock, Timer } from './clock.js';
import type { OutboxStore, OutgoingSegment } from './outbox/types.js';

export interface DrainOptions {
  readonly store: OutboxStore;
  readonly window: number;
  readonly ackTimeoutMs: number;
  readonly clock: Clock;
  /** Publishes one encoded segment; false when the link is down. */
  readonly send: (bytes: Uint8Array) => boolean;
  /** Seq of the latest verified receipt (0 without one). */
  readonly ackedSeq: () => bigint;
  readonly onTimeout: (waiting: number) => void;
  readonly onError: (message: string) => void;
}

export class Drain {
  private sentUpTo = 0n;
  private inflight: bigint[] = [];
  private ackTimer: Timer | undefined;

  constructor(private readonly o: DrainOptions) {}

  /** The next pump sends from max(seq, acked) + 1. */
  rewind(seq: bigint): void {
    const floor = this.o.ackedSeq();
    this.sentUpTo = seq > floor ? seq : floor;
    this.inflight = [];
    this.cancelTimer();
  }

  /** A verified receipt up to seq: those segments leave the window. */
  acked(seq: bigint): void {
    this.inflight = this.inflight.filter((s) => s > seq);
    if (this.sentUpTo < seq) this.sentUpTo = seq;
    this.cancelTimer();
  }

  /** Fills the window with committed segments of the channel up to its head. */
  pump(channelId: Uint8Array, headSeq: bigint): void {
    const room = this.o.window - this.inflight.length;
    if (room > 0 && this.sentUpTo < headSeq) {
      let segs: OutgoingSegment[] = [];
      try {
        segs = this.o.store.segmentsAfter(channelId, this.sentUpTo, room);
      } catch (err) {
        this.o.onError(`reading the outbox: ${(err as Error).message}`);
      }
      for (const s of segs) {
        if (!this.o.send(encodeSegment(s))) break;
        this.sentUpTo = s.lastSeq;
        this.inflight.push(s.lastSeq);
      }
    }
    if (this.inflight.length > 0 && this.ackTimer === undefined) {
      this.ackTimer = this.o.clock.after(this.o.ackTimeoutMs, () => {
        this.ackTimer = undefined;
        if (this.inflight.length === 0) return;
        this.o.onTimeout(this.inflight.length);
        this.rewind(this.o.ackedSeq());
        this.pump(channelId, headSeq);
      });
    }
  }

  stop(): void {
    this.cancelTimer();
  }

  private cancelTimer(): void {
    this.ackTimer?.cancel();
    this.ackTimer = undefined;
  }
}
