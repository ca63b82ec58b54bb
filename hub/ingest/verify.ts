// Step 4, verify: the chain link, the device signature, then the voucher rules [P-4.3, P-4.4,
// P-4.5], by protocol/. Also the device signature of a segment on its own (a conflict, a segment
// that must wait for a gap, one refused before verification): the pipeline acts on a refusal only
// once the refused segment is known to carry the device's signature.

import {
  defaultBackend,
  segmentHashes,
  segmentHeadSeq,
  verifySegment,
  verifySegmentSignature,
  type Head,
  type Segment,
  type Ed25519Backend,
  type VerifiedSegment,
} from '../../protocol/index.js';
import type { LiveChannel } from '../model/registry.js';
import { deferringBackend, type SignatureCheck, type SignatureVerifier } from './signature-pool.js';
import type { Rejection } from './types.js';

export type VerifyOutcome =
  | { ok: true; verified: VerifiedSegment; check: SignatureCheck | undefined }
  | {
      ok: false;
      rejection: Rejection;
      /** The refusal came after the signature in [P-4.5] (a voucher rule), and the signature held. */
      signed: boolean;
      /** The refusal came after the signature, which a worker still has to check: the reason
       *  stands only if the worker finds it valid. */
      check: SignatureCheck | undefined;
    };

/** defaultBackend, telling whether verifySegment reached the signature and what it found. */
function noting(onVerdict: (valid: boolean) => void): Ed25519Backend {
  return {
    ...defaultBackend,
    verify(signature, message, publicKey) {
      const valid = defaultBackend.verify(signature, message, publicKey);
      onVerdict(valid);
      return valid;
    },
  };
}

/**
 * With a signature pool, the chain rules and the strict pre-checks run here and the equation check
 * is returned as `check` for a worker; without one, everything runs here.
 */
export function verifyStep(
  ch: LiveChannel,
  s: Segment,
  prev: Head,
  pool: SignatureVerifier | undefined,
): VerifyOutcome {
  const deferred = pool ? deferringBackend() : undefined;
  let signed = false;
  const result = verifySegment(
    s,
    prev,
    { channelId: ch.id, deviceKey: ch.deviceKey, pricePerUnit: ch.pricePerUnit, capacity: ch.capacity },
    deferred ? deferred.backend : noting((valid) => (signed = valid)),
  );
  const check = deferred?.take();
  if (result.ok) return { ok: true, verified: result.value, check };
  return {
    ok: false,
    rejection: {
      stage: 'verify',
      reason: result.code,
      deviceHex: ch.deviceHex,
      channel: ch,
      seq: segmentHeadSeq(s),
      vouchers: s.vouchers.length,
      ...(result.detail !== undefined ? { detail: result.detail } : {}),
    },
    signed,
    check,
  };
}

/** A conflicting segment is evidence only if its head carries the device's valid signature. */
export function signedByDevice(ch: LiveChannel, s: Segment, incomingHashes: Uint8Array[]): boolean {
  return verifySegmentSignature(s.signature, incomingHashes[incomingHashes.length - 1]!, ch.deviceKey);
}

/**
 * The device signature over a segment's own head (hashed from its own prevHash, whatever the
 * channel's head is) [P-4.4]: decided now (false, or true without a pool) or a check for a worker.
 */
export function segmentSignature(
  ch: LiveChannel,
  s: Segment,
  pool: SignatureVerifier | undefined,
): { verdict: boolean } | { check: SignatureCheck } {
  const hashes = segmentHashes(s);
  const head = hashes[hashes.length - 1]!;
  if (!pool) return { verdict: verifySegmentSignature(s.signature, head, ch.deviceKey) };
  const deferred = deferringBackend();
  if (!verifySegmentSignature(s.signature, head, ch.deviceKey, deferred.backend)) return { verdict: false };
  return { check: deferred.take()! };
}
