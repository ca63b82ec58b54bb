// The device signature's verdict on a segment, for acting on it only once it is known: now when it
// can be decided here (no worker pool, or a strict pre-check failed), else when a worker answers.
// The continuation runs against the channel as it stands by then (a failed commit may have
// reloaded it) and not at all once the hub is stopping.

import type { Segment } from '../../protocol/index.js';
import type { LiveChannel, Registry } from '../model/registry.js';
import type { SignatureCheck, SignatureVerifier } from './signature-pool.js';
import { segmentSignature } from './verify.js';

/** Valid, invalid, or undefined when the check could not run (the hub's fault, not the device's). */
export type Verdict = boolean | undefined;
export type AfterVerdict = (valid: Verdict, current: LiveChannel) => void;

export class Verdicts {
  constructor(
    private readonly d: {
      pool: SignatureVerifier | undefined;
      registry: Registry;
      stopped: () => boolean;
      onError: (err: unknown) => void;
    },
  ) {}

  /** The device signature of `s` over its own head (hashed from its own prevHash) [P-4.4]. */
  ofSegment(ch: LiveChannel, s: Segment, then: AfterVerdict): void {
    const signature = segmentSignature(ch, s, this.d.pool);
    if ('verdict' in signature) return then(signature.verdict, ch);
    this.of(ch, signature.check, then);
  }

  /** A check already captured (a deferred step 5 of [P-2.2]), answered by a worker. */
  of(ch: LiveChannel, check: SignatureCheck, then: AfterVerdict): void {
    void this.d.pool!.verify(check).then((valid) => {
      try {
        if (this.d.stopped()) return; // shutting down: nothing more is committed or sent
        const current = this.d.registry.channels.get(ch.idHex);
        if (current) then(valid, current);
      } catch (err) {
        this.d.onError(err);
      }
    });
  }
}
