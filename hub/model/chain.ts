// Looking up the accepted chain of a channel at any seq: from the live head, the segments waiting
// for their commit, or the stored segments (decoded and re-hashed on demand). Used to tell an
// exact duplicate from an equivocation [P-5.3] and to verify a segment that overlaps the head.

import { decodeSegment, genesisHead, segmentHashes, type Head } from '../../protocol/index.js';
import type { HubStore } from '../store/types.js';
import type { LiveChannel } from './registry.js';

/** The accepted head at `seq` (0 <= seq <= channel.head.seq), or undefined if it cannot be found. */
export function headAt(store: HubStore, ch: LiveChannel, seq: bigint): Head | undefined {
  if (seq === ch.head.seq) return ch.head;
  if (seq === 0n) return genesisHead(ch.id);
  if (seq > ch.head.seq || seq < 0n) return undefined;
  for (const p of ch.pending) {
    if (p.firstSeq <= seq && seq <= p.lastSeq) {
      const j = Number(seq - p.firstSeq);
      return { seq, hash: p.hashes[j]!, cumUnits: p.cumUnits[j]!, cumAmount: p.cumAmounts[j]! };
    }
  }
  const row = store.segmentContaining(ch.id, seq);
  if (!row) return undefined;
  const decoded = decodeSegment(row.bytes);
  if (!decoded.ok) return undefined;
  const j = Number(seq - decoded.value.firstSeq);
  const hashes = segmentHashes(decoded.value);
  const v = decoded.value.vouchers[j];
  if (!v) return undefined;
  return { seq, hash: hashes[j]!, cumUnits: v.cumUnits, cumAmount: v.cumAmount };
}
