// Step 3, sequence: place a segment against the channel's head [P-4.5, P-5.3].
//   next       first seq is head + 1: verify it against the head
//   gap        first seq is beyond head + 1: wait in the reorder buffer
//   duplicate  entirely at or below the head and identical to what is stored: acknowledge again
//   tail       overlaps the head and agrees with it: verify it whole, add only what is new
//   conflict   disagrees with the stored chain at a stored seq: evidence if the device signed it
//   fetch      the answer needs a stored voucher: the caller fetches it and places the segment again
// Identity is decided by voucher hashes: the hash at seq k commits to every voucher of the segment
// up to k through the prevHash links, so one comparison settles it [P-4.2].

import { bytesEqual, segmentHashes, segmentHeadSeq, type Head, type Segment } from '../../protocol/index.js';
import { headAt, type FetchedHeads } from '../model/chain.js';
import type { LiveChannel } from '../model/registry.js';

export type Placement =
  | { kind: 'next'; prev: Head; newFromSeq: bigint }
  | { kind: 'tail'; prev: Head; newFromSeq: bigint }
  | { kind: 'gap' }
  | { kind: 'duplicate' }
  | { kind: 'conflict'; seq: bigint; storedHash: Uint8Array; incomingHashes: Uint8Array[] }
  | { kind: 'lost'; seq: bigint }
  | { kind: 'fetch'; seq: bigint };

export function sequenceStep(ch: LiveChannel, s: Segment, fetched?: FetchedHeads): Placement {
  const head = ch.head;
  const first = s.firstSeq;
  if (first === head.seq + 1n) return { kind: 'next', prev: head, newFromSeq: first };
  if (first > head.seq + 1n) return { kind: 'gap' };

  const last = segmentHeadSeq(s);
  const incoming = segmentHashes(s);
  // Compare at the highest seq both chains hold: the segment's end, or the head if it goes beyond.
  const probe = last <= head.seq ? last : head.seq;
  const stored = headAt(ch, probe, fetched);
  if (stored === 'fetch') return { kind: 'fetch', seq: probe };
  if (!stored) return { kind: 'lost', seq: probe };
  const same = bytesEqual(incoming[Number(probe - first)]!, stored.hash);
  if (!same) return { kind: 'conflict', seq: probe, storedHash: stored.hash, incomingHashes: incoming };
  if (last <= head.seq) return { kind: 'duplicate' };
  const prev = headAt(ch, first - 1n, fetched);
  if (prev === 'fetch') return { kind: 'fetch', seq: first - 1n };
  if (!prev) return { kind: 'lost', seq: first - 1n };
  return { kind: 'tail', prev, newFromSeq: head.seq + 1n };
}
