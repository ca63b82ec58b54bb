// Sends the outbox in seq order with a bounded window of segments that wait for a receipt. What
// was sent is forgotten on every new connection, resync or receipt timeout: the outbox, not the
// MQTT client's memory, says what must still go out [P-5.2, P-5.3].
//
// The segments committed since the last pump are also handed over in memory (`committed`), so
// that the common case, a segment sent right after its commit, does not read back what was just
// written. Only committed segments are offered, at most a window of them, and only a run that
// continues exactly where the drain stands, on the same channel, is taken from them; anything else
// (segments dropped while the link was down, a rewind to before them) reads the outbox as before.
import { bytesEqual, encodeSegment } from '../protocol/index.js';
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
  /** Committed segments not yet sent, oldest first; at most a window's worth is kept. */
  private fresh: OutgoingSegment[] = [];

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

  /** Segments the outbox has just committed, in seq order (Production, after each commit). */
  committed(segments: readonly OutgoingSegment[]): void {
    this.fresh.push(...segments);
    // A link that is down keeps them in the outbox only: the next pump reads them from there.
    if (this.fresh.length > this.o.window) this.fresh.splice(0, this.fresh.length - this.o.window);
  }

  /** Fills the window with committed segments of the channel up to its head. */
  pump(channelId: Uint8Array, headSeq: bigint): void {
    const room = this.o.window - this.inflight.length;
    if (room > 0 && this.sentUpTo < headSeq) {
      let segs = this.takeFresh(channelId, room);
      if (segs.length === 0) {
        try {
          segs = this.o.store.segmentsAfter(channelId, this.sentUpTo, room);
        } catch (err) {
          this.o.onError(`reading the outbox: ${(err as Error).message}`);
        }
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

  /** Up to `room` fresh segments that go on exactly from sentUpTo, or none. */
  private takeFresh(channelId: Uint8Array, room: number): OutgoingSegment[] {
    let i = 0;
    while (i < this.fresh.length && this.fresh[i]!.lastSeq <= this.sentUpTo) i++;
    if (i > 0) this.fresh.splice(0, i);
    const first = this.fresh[0];
    if (first === undefined || first.firstSeq !== this.sentUpTo + 1n || !bytesEqual(first.channelId, channelId)) {
      return [];
    }
    let n = 1;
    while (n < room && n < this.fresh.length && this.fresh[n]!.firstSeq === this.fresh[n - 1]!.lastSeq + 1n) n++;
    return this.fresh.slice(0, n);
  }

  private cancelTimer(): void {
    this.ackTimer?.cancel();
    this.ackTimer = undefined;
  }
}
