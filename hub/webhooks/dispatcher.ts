// The webhook delivery loop. It never runs on the ingest path: it reads due deliveries from the
// outbox (where the hub's transactions wrote them), sends each as one signed POST, and records the
// outcome. Bounded on every side: at most `concurrency` requests in flight hub-wide and
// `perSubscription` per receiver, each with a timeout covering the whole exchange, the answer's
// body discarded unread. A hung or slow receiver therefore costs a few sockets and never memory:
// what it has not taken stays in the database. A hub that dies mid-request sends it again after
// the lease (docs/webhooks.md, "Delivery").

import type { HubLog } from '../base/log-codes.js';
import type { WebhookConfig } from '../base/webhook-config.js';
import type { DeliveryFailureReason, WebhookMetrics } from '../base/webhook-metrics.js';
import type { DeliveryJob, OutboxStore } from '../store/outbox-types.js';
import { afterFailure } from './backoff.js';
import { secretKey, signedHeaders } from './sign.js';

export interface DispatcherOptions {
  outbox: OutboxStore;
  config: WebhookConfig;
  metrics: WebhookMetrics;
  now: () => number;
  log: HubLog;
  /** The product and version, for the User-Agent header. */
  userAgent: string;
}

type Attempt =
  { ok: true; status: number } | { ok: false; reason: DeliveryFailureReason; status: number | null; error: string };

export class WebhookDispatcher {
  private readonly inFlight = new Map<bigint, Promise<void>>();
  private readonly busy = new Map<bigint, number>();
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private stopped = false;
  private lastPruneMs = 0;

  constructor(private readonly o: DispatcherOptions) {}

  start(): void {
    this.wake(0);
  }

  /** New events were written, or an attempt ended: look now rather than at the next poll. */
  nudge(): void {
    if (!this.stopped) this.wake(0);
  }

  /** Aborts the requests in flight (they are not counted as attempts: their lease brings them
   *  back after a restart) and waits until none is left. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.stopping.abort();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private wake(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    let next = this.o.config.pollMs;
    try {
      do {
        this.again = false;
        await this.claim();
      } while (this.again && !this.stopped);
      const due = await this.o.outbox.nextDueAtMs();
      if (due !== undefined) next = Math.max(0, Math.min(next, Number(due) - this.o.now()));
      await this.prune();
    } catch (err) {
      if (!this.stopped) this.o.log.event('WEBHOOK_LOOP_FAILED', { err });
    } finally {
      this.ticking = false;
    }
    // A full house waits for an attempt to end (which nudges); otherwise the next due time.
    if (this.inFlight.size < this.o.config.concurrency) this.wake(Math.max(10, next));
  }

  private async claim(): Promise<void> {
    const c = this.o.config;
    const free = c.concurrency - this.inFlight.size;
    if (free <= 0 || this.stopped) return;
    const nowMs = this.o.now();
    const jobs = await this.o.outbox.claimDue({
      nowMs: BigInt(nowMs),
      limit: free,
      perSubscription: c.perSubscription,
      busy: this.busy,
      // Long enough for the attempt to end; a hub killed meanwhile finds it due again after this.
      leaseUntilMs: BigInt(nowMs + 2 * c.timeoutMs + 1_000),
    });
    for (const job of jobs) {
      this.busy.set(job.subscriptionId, (this.busy.get(job.subscriptionId) ?? 0) + 1);
      this.o.metrics.inFlight.inc();
      const run = this.deliver(job).finally(() => {
        this.inFlight.delete(job.id);
        const n = (this.busy.get(job.subscriptionId) ?? 1) - 1;
        if (n > 0) this.busy.set(job.subscriptionId, n);
        else this.busy.delete(job.subscriptionId);
        this.o.metrics.inFlight.dec();
        this.nudge();
      });
      this.inFlight.set(job.id, run);
    }
  }

  private async deliver(job: DeliveryJob): Promise<void> {
    const attempt = await this.send(job);
    if (this.stopped && !attempt.ok && this.stopping.signal.aborted) return;
    const atMs = this.o.now();
    const failures = job.attempts + 1;
    try {
      if (attempt.ok) {
        await this.o.outbox.recordAttempt({
          id: job.id,
          atMs: BigInt(atMs),
          state: 'delivered',
          status: attempt.status,
          error: null,
        });
        this.o.metrics.delivered.inc({ type: job.eventType });
        return;
      }
      this.o.metrics.failures.inc({ reason: attempt.reason });
      const next = afterFailure(this.o.config, failures, Number(job.createdAtMs), atMs);
      await this.o.outbox.recordAttempt({
        id: job.id,
        atMs: BigInt(atMs),
        state: next.state,
        ...(next.state === 'retry' ? { nextAttemptAtMs: BigInt(next.atMs) } : {}),
        status: attempt.status,
        error: attempt.error,
      });
      if (next.state === 'dead') {
        this.o.metrics.deadLetters.inc({ type: job.eventType });
        this.o.log.event('WEBHOOK_DEAD_LETTER', {
          event: job.eventId,
          type: job.eventType,
          subscription: job.subscriptionId.toString(),
          attempts: failures,
          error: attempt.error,
        });
      }
    } catch (err) {
      // The lease brings the delivery back; the receiver may see it twice, which its key absorbs.
      if (!this.stopped) this.o.log.event('WEBHOOK_RECORD_FAILED', { event: job.eventId, err });
    }
  }

  private async send(job: DeliveryJob): Promise<Attempt> {
    const key = secretKey(job.secret);
    if (!key)
      return { ok: false, reason: 'network', status: null, error: 'the subscription secret is not a whsec_ key' };
    const timestampSec = Math.floor(this.o.now() / 1000);
    const timeout = AbortSignal.timeout(this.o.config.timeoutMs);
    try {
      const res = await fetch(job.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.o.userAgent,
          ...signedHeaders(key, job.eventId, timestampSec, job.payload),
        },
        body: job.payload,
        // A redirect is the receiver's misconfiguration, not a place to send money events.
        redirect: 'manual',
        signal: AbortSignal.any([timeout, this.stopping.signal]),
      });
      // The answer's body is not read: nothing in it changes the outcome, and it could be endless.
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
      return { ok: false, reason: 'status', status: res.status, error: `HTTP ${res.status}` };
    } catch (err) {
      if (timeout.aborted)
        return { ok: false, reason: 'timeout', status: null, error: `no answer within ${this.o.config.timeoutMs} ms` };
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return {
        ok: false,
        reason: 'network',
        status: null,
        error: cause?.code ?? cause?.message ?? (err as Error).message,
      };
    }
  }

  /** Once an hour: delivered deliveries and their events past the retention go. */
  private async prune(): Promise<void> {
    const nowMs = this.o.now();
    if (nowMs - this.lastPruneMs < 3_600_000) return;
    this.lastPruneMs = nowMs;
    await this.o.outbox.prune(BigInt(nowMs - this.o.config.retentionMs));
  }
}
