// Step 4, verify: the chain rules and the device signature [P-4.3, P-4.4, P-4.5], by protocol/.
// Also the evidence check for a conflicting segment: did the device really sign it?

import {
  segmentHeadSeq,
  verifySegment,
  verifySegmentSignature,
  type Head,
  type Segment,
  type VerifiedSegment,
} from '../../protocol/index.js';
import type { LiveChannel } from '../model/registry.js';
import { deferringBackend, type SignatureCheck, type SignatureVerifier } from './signature-pool.js';
import { pass, stop, type Step } from './types.js';

/**
 * With a signature pool, the chain rules and the strict pre-checks run here and the equation check
 * is returned as `check` for a worker; without one, everything runs here.
 */
export function verifyStep(
  ch: LiveChannel,
  s: Segment,
  prev: Head,
  pool: SignatureVerifier | undefined,
): Step<{ verified: VerifiedSegment; check: SignatureCheck | undefined }> {
  const deferred = pool ? deferringBackend() : undefined;
  const result = verifySegment(
    s,
    prev,
    { channelId: ch.id, deviceKey: ch.deviceKey, pricePerUnit: ch.pricePerUnit, capacity: ch.capacity },
    ...(deferred ? [deferred.backend] : []),
  );
  if (result.ok) return pass({ verified: result.value, check: deferred?.take() });
  return stop({
    stage: 'verify',
    reason: result.code,
    deviceHex: ch.deviceHex,
    channel: ch,
    seq: segmentHeadSeq(s),
    vouchers: s.vouchers.length,
    ...(result.detail !== undefined ? { detail: result.detail } : {}),
  });
}

/** A conflicting segment is evidence only if its head carries the device's valid signature. */
export function signedByDevice(ch: LiveChannel, s: Segment, incomingHashes: Uint8Array[]): boolean {
  return verifySegmentSignature(s.signature, incomingHashes[incomingHashes.length - 1]!, ch.deviceKey);
}
