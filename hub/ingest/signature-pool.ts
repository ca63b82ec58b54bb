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
const WORKER_SOURCE = `
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

export class SignaturePool implements SignatureVerifier {
  private readonly workers: Worker[];
  private readonly inflight = new Map<number, Batch>();
  private readonly load: number[];
  private queue: Batch = { checks: [], resolves: [] };
  private scheduled = false;
  private nextId = 1;
  private closed = false;
  private inline = 0;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.on('message', ({ id, out }: { id: number; out: Uint8Array }) => this.done(id, out));
      w.on('error', () => this.failAll());
      w.unref();
      return w;
    });
    this.load = this.workers.map(() => 0);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Checks answered on the calling thread so far (see INLINE_MAX_CHECKS). */
  get checkedInline(): number {
    return this.inline;
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
    if (batch.checks.length <= INLINE_MAX_CHECKS && this.inflight.size === 0) {
      // Same policy as the workers: the strict pre-checks, then OpenSSL's equation check.
      this.inline += batch.checks.length;
      batch.checks.forEach((c, i) => batch.resolves[i]!(nodeBackend.verify(c.signature, c.message, c.publicKey)));
      return;
    }
    const parts = Math.min(this.workers.length, Math.ceil(batch.checks.length / 16));
    const per = Math.ceil(batch.checks.length / parts);
    for (let p = 0; p < parts; p++) {
      const checks = batch.checks.slice(p * per, (p + 1) * per);
      const resolves = batch.resolves.slice(p * per, (p + 1) * per);
      let w = 0;
      for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[w]!) w = i;
      const id = this.nextId++;
      this.inflight.set(id, { checks, resolves });
      this.load[w]! += checks.length;
      (this.inflight.get(id) as Batch & { worker?: number }).worker = w;
      this.workers[w]!.postMessage({ id, checks });
    }
  }

  private done(id: number, out: Uint8Array): void {
    const batch = this.inflight.get(id) as (Batch & { worker?: number }) | undefined;
    if (!batch) return;
    this.inflight.delete(id);
    this.load[batch.worker!]! -= batch.checks.length;
    batch.resolves.forEach((resolve, i) => resolve(out[i] === 1));
  }

  private failAll(): void {
    for (const b of this.inflight.values()) for (const r of b.resolves) r(undefined);
    this.inflight.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.queue.resolves) r(undefined);
    this.failAll();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
