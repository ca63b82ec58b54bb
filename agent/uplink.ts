// The link side of one agent: what it says to the hub and when. On each connection it forgets what
// was in flight, says hello (and again, with backoff, until a channel is granted) and pumps the
// committed outbox through the drain; segments and status go out only while the link is up. Kept
// apart from production because it never signs: it only sends what was committed (step 3 of the
// order in agent.ts), read back from the outbox.
import { encodeStatus, topics, type StatusState } from '../protocol/index.js';
import { redactUrl } from '../common/redact-url.js';
import { backoffCeiling } from './backoff.js';
import type { Timer } from './clock.js';
import type { Drain } from './drain.js';
import type { MqttLink } from './link.js';
import type { OutgoingSegment } from './outbox/types.js';
import type { AgentContext } from './state.js';

/** A device without a channel asks again after this long, then backs off (see armHello). Its hello
 *  can go unanswered: after a restart of an external broker without persistence, a device may
 *  reconnect and say hello before the hub's MQTT client has subscribed again, and both the hello
 *  and the hub's grant on subscription are lost. A device that already holds its channel needs no grant. */
export const HELLO_RETRY_MS = 5_000;
const HELLO_RETRY_MAX_MS = 120_000;

export class Uplink {
  private helloTimer: Timer | undefined;

  constructor(
    private readonly ctx: AgentContext,
    private readonly link: MqttLink,
    private readonly drain: Drain,
  ) {}

  onLinkUp(): void {
    this.ctx.counters.linkUps++;
    this.ctx.log('LINK_UP', redactUrl(this.ctx.o.broker.url));
    this.ctx.events.emit('link', true);
    this.rewind(0n);
    this.sendStatus('hello'); // [P-6.6] asks for the grant; its head tells us where the hub stands
    this.armHello();
    this.pump();
  }

  onLinkDown(why: string): void {
    this.cancelHello();
    this.ctx.log('LINK_DOWN', why);
    this.ctx.events.emit('link', false);
    this.drain.stop();
  }

  cancelHello(): void {
    this.helloTimer?.cancel();
    this.helloTimer = undefined;
  }

  /**
   * Until a channel is granted, says hello again while the link is up, backing off exponentially
   * (5 s, 10 s, 20 s ... 2 min, each jittered): a hub too busy to answer must not be answered with
   * more hellos from the whole fleet.
   */
  private armHello(attempt = 0): void {
    this.cancelHello();
    const { state, o } = this.ctx;
    if (state.channel !== undefined || !state.running) return;
    const ceiling = backoffCeiling(attempt, o.helloRetryMs, HELLO_RETRY_MAX_MS);
    const delay = ceiling * (0.5 + 0.5 * (o.random ?? Math.random)());
    this.helloTimer = this.ctx.clock.after(delay, () => {
      this.helloTimer = undefined;
      if (state.channel !== undefined || !this.link.isUp || !state.running) return;
      this.sendStatus('hello');
      this.armHello(attempt + 1);
    });
  }

  /** The next pump sends from max(seq, acked) + 1. */
  rewind(seq: bigint): void {
    this.drain.rewind(seq);
  }

  /** A verified receipt up to seq: those segments leave the window. */
  acked(seq: bigint): void {
    this.drain.acked(seq);
  }

  /** Segments just committed: the drain sends them without reading them back. */
  committed(segments: readonly OutgoingSegment[]): void {
    this.drain.committed(segments);
  }

  pump(): void {
    const c = this.ctx.state.channel;
    if (c !== undefined && this.link.isUp) this.drain.pump(c.channelId, c.head.seq);
  }

  /** The drain's `send`: publishes one committed segment, through the simulator's hook if any. */
  sendSegment(bytes: Uint8Array): boolean {
    if (!this.link.isUp) return false;
    this.ctx.counters.segmentsPublished++;
    const topic = topics.segment(this.ctx.deviceHex);
    const o = this.ctx.o;
    const sent =
      o.interceptSegment === undefined
        ? this.link.publish(topic, bytes)
        : o.interceptSegment(bytes, (payload) => this.link.publish(topic, payload));
    sent.then(
      () => this.ctx.crash('after-publish'),
      () => undefined, // the link dropped: the next connection re-sends from the receipt
    );
    return true;
  }

  sendStatus(state: StatusState): void {
    if (!this.link.isUp) return;
    this.link.publish(topics.status(this.ctx.deviceHex), this.statusBytes(state)).catch(() => undefined);
  }

  statusBytes(state: StatusState): Uint8Array {
    const s = this.ctx.state;
    return encodeStatus({
      state,
      channelId: s.channel?.channelId ?? new Uint8Array(32),
      ackedSeq: s.receipt?.seq ?? 0n,
      outboxDepth: Math.min(s.outstanding, 0xffffffff),
      deviceTimeMs: BigInt(this.ctx.clock.now()),
    });
  }
}
