// Looking up the accepted chain of a channel at any seq: from the live head, the segments waiting
// for their commit, or the stored segments (decoded and re-hashed on demand). Used to tell an
// exact duplicate from an equivocation [P-5.3] and to verify a segment that overlaps the head.
// The store is asynchronous, so the lookup is in two halves: what memory answers at once, and a
// stored segment fetched by the caller (the ingest pipeline holds the channel's later segments back
// meanwhile, so none overtakes the one waiting).

import { decodeSegment, genesisHead, segmentHashes, type Head } from '../../protocol/index.js';
import type { SegmentRow } from '../store/types.js';
import type { LiveChannel } from './registry.js';

/** Heads already fetched from the store for one placement: seq -> head (null = not stored). */
export type FetchedHeads = ReadonlyMap<bigint, Head | null>;

/**
 * The accepted head at `seq` (0 <= seq <= channel.head.seq) from memory or `fetched`; undefined if
 * it does not exist; 'fetch' when only the store can tell (then fetch with headFromRow).
 */
export function headAt(ch: LiveChannel, seq: bigint, fetched?: FetchedHeads): Head | undefined | 'fetch' {
  if (seq === ch.head.seq) return ch.head;
  if (seq === 0n) return genesisHead(ch.id);
  if (seq > ch.head.seq || seq < 0n) return undefined;
  for (const p of ch.pending) {
    if (p.firstSeq <= seq && seq <= p.lastSeq) {
      const j = Number(seq - p.firstSeq);
      return { seq, hash: p.hashes[j]!, cumUnits: p.cumUnits[j]!, cumAmount: p.cumAmounts[j]! };
    }
  }
  const known = fetched?.get(seq);
  if (known === undefined) return 'fetch';
  return known ?? undefined;
}

/** The head at `seq` inside a stored segment (from store.segmentContaining), or null. */
export function headFromRow(row: SegmentRow | undefined, seq: bigint): Head | null {
  if (!row) return null;
  const decoded = decodeSegment(row.bytes);
  if (!decoded.ok) return null;
  const j = Number(seq - decoded.value.firstSeq);
  const hashes = segmentHashes(decoded.value);
  const v = decoded.value.vouchers[j];
  if (!v) return null;
  return { seq, hash: hashes[j]!, cumUnits: v.cumUnits, cumAmount: v.cumAmount };
}
