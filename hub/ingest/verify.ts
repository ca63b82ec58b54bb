// Step 4, verify: the chain rules and the device signature [P-4.3, P-4.4, P-4.5], by protocol/.
// Also the evidence check for a conflicting segment: did the device really sign it?

import { verifySegment, verifySegmentSignature, type Head, type Segment, type VerifiedSegment } from '../../protocol/index.js';
import type { LiveChannel } from '../core/registry.js';
import { pass, stop, type Step } from './types.js';

export function verifyStep(ch: LiveChannel, s: Segment, prev: Head): Step<VerifiedSegment> {
  const result = verifySegment(s, prev, {
    channelId: ch.id,
    deviceKey: ch.deviceKey,
    pricePerUnit: ch.pricePerUnit,
    capacity: ch.capacity,
  });
  if (result.ok) return pass(result.value);
  return stop({
    stage: 'verify',
    reason: result.code,
    deviceHex: ch.deviceHex,
    channel: ch,
    seq: s.firstSeq + BigInt(s.vouchers.length) - 1n,
    vouchers: s.vouchers.length,
    ...(result.detail !== undefined ? { detail: result.detail } : {}),
  });
}

/** A conflicting segment is evidence only if its head carries the device's valid signature. */
export function signedByDevice(ch: LiveChannel, s: Segment, incomingHashes: Uint8Array[]): boolean {
  return verifySegmentSignature(s.signature, incomingHashes[incomingHashes.length - 1]!, ch.deviceKey);
}
