// Ed25519 signature checks on worker threads. Verification is the one expensive step of ingest
// (tens of microseconds per signature, against about one for a voucher hash), so with one voucher
// per segment it decides the hub's rate; the pool spreads it over the other cores while the main
// thread keeps the order of every channel.
//
// Policy stays protocol/'s [P-2.2]: the main thread runs verifySegment with a backend that applies
// the strict pre-checks (steps 1-4, passesStrictPrechecks) and captures the exact bytes of the
// equation check (step 5); the worker then runs that check with node:crypto (OpenSSL), as
// protocol's nodeBackend does. The worker is an inline script so the bundled CLI needs no extra file.

import { Worker } from 'node:worker_threads';
import { nodeBackend, passesStrictPrechecks, type Ed25519Backend } from '../../protocol/index.js';

export interface SignatureCheck {
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
}

// Step 5 of [P-2.2] only: RFC 8410 SubjectPublicKeyInfo wrapping of the raw key, as in
// protocol/crypto/node.ts, and OpenSSL's verify. KeyObjects are cached per device key.
export const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map();
parentPort.on('message', ({ id, checks }) => {
  const out = new Uint8Array(checks.length);
  for (let i = 0; i < checks.length; i++) {
    const c = checks[i];
    try {
      const name = Buffer.from(c.publicKey).toString('latin1');
      let key = keys.get(name);
      if (key === undefined) {
        if (keys.size >= 65536) keys.clear();
        key = createPublicKey({ key: Buffer.concat([SPKI, c.publicKey]), format: 'der', type: 'spki' });
        keys.set(name, key);
      }
      out[i] = verify(null, c.message, key, c.signature) ? 1 : 0;
    } catch {
      out[i] = 0;
    }
  }
  parentPort.postMessage({ id, out }, [out.buffer]);
});
`;

/**
 * A backend for verifySegment that decides steps 1-4 now and defers step 5: it records the
 * signature, message and key and answers true, so verifySegment returns the chain it checked.
 */
export function deferringBackend(): { backend: Ed25519Backend; take(): SignatureCheck | undefined } {
  let captured: SignatureCheck | undefined;
  const backend: Ed25519Backend = {
    name: 'deferred',
    publicKeyOf() {
      throw new TypeError('deferring backend only verifies');
    },
    sign() {
      throw new TypeError('deferring backend only verifies');
    },
    verify(signature, message, publicKey) {
      if (!passesStrictPrechecks(signature, publicKey)) return false;
      captured = { signature, message, publicKey };
      return true;
    },
  };
  return {
    backend,
    take() {
      const c = captured;
      captured = undefined;
      return c;
    },
  };
}

/**
 * What the pipeline asks of a signature pool: a verdict per check, later. True: the signature holds;
 * false: it does not; undefined: the check could not run (the hub's fault, not the device's). Tests
 * pass their own (one that holds verdicts until released) to order a race exactly.
 */
export interface SignatureVerifier {
  verify(check: SignatureCheck): Promise<boolean | undefined>;
}

interface Batch {
  checks: SignatureCheck[];
  resolves: ((ok: boolean | undefined) => void)[];
}

/**
 * A batch this small, with no worker busy, is checked on the calling thread. A worker costs two
 * thread hand-offs per batch (wake the worker, wake the main thread for the verdict); when devices
 * trickle in one segment at a time and the cores are shared, each hand-off can wait for a time
 * slice, which is what a segment's latency then consists of. Checking one or two signatures here
 * costs about as much CPU as the hand-offs. Under load the workers are always busy, so batches
 * still go to them and the main thread keeps its time for ordering and commits.
 */
export const INLINE_MAX_CHECKS = 2;

/** A worker thread that ended while the pool was open, as the pool reports it. */
export interface WorkerExit {
  /** Which of the pool's workers (0-based). */
  worker: number;
  /** Its exit code, and its uncaught error when it threw one. */
  code: number;
  error?: string;
  /** Checks it had been given and will never answer: each resolved undefined (the hub's fault). */
  lost: number;
  /** Whether a new worker takes its place; when not, its share is checked on the calling thread. */
  replaced: boolean;
}

export interface SignaturePoolOptions {
  /** Told of every worker that ends unasked (the hub logs it and counts it in /metrics). */
  onWorkerExit?: (exit: WorkerExit) => void;
  /** The worker's script (tests give one that fails); the default is WORKER_SOURCE above. */
  workerSource?: string;
}

/** A worker that ends before it has answered anything this many times in a row is not started
 *  again: something in the process (a preload that throws on worker threads, a resource limit)
 *  stops every worker, and the main thread checks its share instead. */
export const MAX_FAILED_STARTS = 3;

interface Slot {
  worker: Worker | undefined;
  /** Checks sent to it and not answered yet. */
  load: number;
  /** Ends since it last answered. */
  failures: number;
  lastError: string | undefined;
}

export class SignaturePool implements SignatureVerifier {
  private readonly slots: Slot[];
  private readonly inflight = new Map<number, Batch & { slot: Slot }>();
  private queue: Batch = { checks: [], resolves: [] };
  private scheduled = false;
  private nextId = 1;
  private closed = false;
  private inline = 0;
  private exits = 0;

  constructor(
    size: number,
    private readonly options: SignaturePoolOptions = {},
  ) {
    this.slots = Array.from({ length: size }, () => ({
      worker: undefined,
      load: 0,
      failures: 0,
      lastError: undefined,
    }));
    this.slots.forEach((slot) => this.start(slot));
  }

  get size(): number {
    return this.slots.length;
  }

  /** Checks answered on the calling thread so far (see INLINE_MAX_CHECKS and MAX_FAILED_STARTS). */
  get checkedInline(): number {
    return this.inline;
  }

  /** Workers that ended while the pool was open. */
  get workerExits(): number {
    return this.exits;
  }

  /** Workers running now. */
  get liveWorkers(): number {
    return this.slots.filter((s) => s.worker !== undefined).length;
  }

  private start(slot: Slot): void {
    const w = new Worker(this.options.workerSource ?? WORKER_SOURCE, { eval: true });
    slot.worker = w;
    w.on('message', ({ id, out }: { id: number; out: Uint8Array }) => {
      slot.failures = 0;
      this.done(id, out);
    });
    // 'error' (an uncaught exception in the worker) is always followed by 'exit'.
    w.on('error', (err) => (slot.lastError = err instanceof Error ? err.message : String(err)));
    w.on('exit', (code) => this.ended(slot, w, code));
    w.unref();
  }

  /**
   * A worker ended. Whatever it had been given would otherwise wait for ever, and with it every
   * later segment of those channels, since a channel's segments are applied in order: so its checks
   * are answered undefined (the device sends them again), and a new worker takes its place.
   */
  private ended(slot: Slot, w: Worker, code: number): void {
    if (this.closed || slot.worker !== w) return;
    slot.worker = undefined;
    slot.load = 0;
    this.exits++;
    let lost = 0;
    for (const [id, b] of this.inflight) {
      if (b.slot !== slot) continue;
      this.inflight.delete(id);
      lost += b.resolves.length;
      for (const r of b.resolves) r(undefined);
    }
    slot.failures++;
    const replaced = slot.failures <= MAX_FAILED_STARTS;
    const error = slot.lastError;
    slot.lastError = undefined;
    if (replaced) this.start(slot);
    this.options.onWorkerExit?.({
      worker: this.slots.indexOf(slot),
      code,
      ...(error !== undefined ? { error } : {}),
      lost,
      replaced,
    });
  }

  /** Resolves true when the signature holds, false when it does not, undefined when the check
   *  could not run (a worker failed, or the pool was closed): that is the hub's fault, not the
   *  device's, and must not be reported as SIG_INVALID. */
  verify(check: SignatureCheck): Promise<boolean | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.queue.checks.push(check);
      this.queue.resolves.push(resolve);
      if (this.queue.checks.length >= 256) this.dispatch();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.dispatch());
      }
    });
  }

  /** Sends the queued checks, split over the workers with the least outstanding work. */
  private dispatch(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = { checks: [], resolves: [] };
    if (batch.checks.length === 0) return;
    const live = this.slots.filter((s) => s.worker !== undefined);
    if (live.length === 0 || (batch.checks.length <= INLINE_MAX_CHECKS && this.inflight.size === 0)) {
      // Same policy as the workers: the strict pre-checks, then OpenSSL's equation check.
      this.inline += batch.checks.length;
      batch.checks.forEach((c, i) => batch.resolves[i]!(nodeBackend.verify(c.signature, c.message, c.publicKey)));
      return;
    }
    const parts = Math.min(live.length, Math.ceil(batch.checks.length / 16));
    const per = Math.ceil(batch.checks.length / parts);
    for (let p = 0; p < parts; p++) {
      const checks = batch.checks.slice(p * per, (p + 1) * per);
      const resolves = batch.resolves.slice(p * per, (p + 1) * per);
      const slot = live.reduce((least, s) => (s.load < least.load ? s : least));
      const id = this.nextId++;
      this.inflight.set(id, { checks, resolves, slot });
      slot.load += checks.length;
      slot.worker!.postMessage({ id, checks });
    }
  }

  private done(id: number, out: Uint8Array): void {
    const batch = this.inflight.get(id);
    if (!batch) return;
    this.inflight.delete(id);
    batch.slot.load -= batch.checks.length;
    batch.resolves.forEach((resolve, i) => resolve(out[i] === 1));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.queue.resolves) r(undefined);
    for (const b of this.inflight.values()) for (const r of b.resolves) r(undefined);
    this.inflight.clear();
    await Promise.all(this.slots.map((s) => s.worker?.terminate()));
  }
}
