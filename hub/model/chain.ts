// Looking up the accepted chain of a channel at any seq: from the live head, the segments waiting
// for their commit, or the stored segments (decoded and re-hashed on demand). Used to tell an
// exact duplicate from an equivocation [P-5.3] and to verify a segment that overlaps the head.

import { ChainHasher, decodeSegment, genesisHead, type Head, type Segment } from '../../protocol/index.js';
import type { HubStore } from '../store/types.js';
import type { LiveChannel } from './registry.js';

/** voucherHash of every voucher of a segment, chained from its own prevHash (no rule checks). */
export function chainHashes(s: Segment): Uint8Array[] {
  const hasher = new ChainHasher(s.channelId);
  const out: Uint8Array[] = new Array(s.vouchers.length);
  let prev = s.prevHash;
  let seq = s.firstSeq;
  for (let j = 0; j < s.vouchers.length; j++) {
    const v = s.vouchers[j]!;
    prev = hasher.hash(seq, v.cumUnits, v.cumAmount, v.deviceTimeMs, prev);
    out[j] = prev;
    seq++;
  }
  return out;
}

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
  const hashes = chainHashes(decoded.value);
  const v = decoded.value.vouchers[j];
  if (!v) return undefined;
  return { seq, hash: hashes[j]!, cumUnits: v.cumUnits, cumAmount: v.cumAmount };
}
