// Segment vectors for a hub [P-4.5, P-5]: what a conforming hub counts and answers for each segment
// published to it, in one fixed situation (the context). Each invalid segment carries exactly one
// defect, so its reason does not depend on the order in which a hub makes its checks; the valid
// ones show the acceptance rules (an overlap with the head is taken, an exact copy acknowledged).

import {
  encodeSegment,
  genesisHead,
  hexToBytes,
  toHex,
  topics,
  U64_MAX,
  type BuiltSegment,
  type Head,
  type Segment,
} from '../../protocol/index.js';
import { fields, T0, type World } from './world.js';

/** What the device receives on its downlink, in order [P-5.5]. */
export type Reply =
  | { kind: 'receipt'; seq: bigint }
  | { kind: 'reject'; seq: bigint; reason: string }
  | { kind: 'resync'; headSeq: bigint; reason: string }
  | { kind: 'capacity'; state: 'exhausted' | 'open' };

export interface SegmentCase {
  name: string;
  description: string;
  /** The clause that decides the outcome. */
  clause: string;
  topic: string;
  wire: Uint8Array;
  /** The hub clock when the segment arrives, when not the context's. */
  hubTimeMs?: bigint;
  /** The channel's state when the segment arrives, when not open. */
  channelState?: 'closed';
  /** Wait out the reorder window after publishing (a segment beyond head + 1). */
  afterReorderWindow?: boolean;
  /** The code the hub counts the segment under (null: accepted, nothing counted). Codes of [P-9];
   *  a HUB_ name is ours, informative (docs/hub.md). */
  counted: string | null;
  replies: Reply[];
  /** What a hub that chains a segment before its signature check finishes (signatures checked
   *  asynchronously) sends instead, when that differs [P-5.5]. */
  repliesIfChainedFirst?: Reply[];
  /** verifySegment [P-4.5] against the context's head, for a segment that starts at head + 1. */
  verify?: string;
}

/** Seq 4 onwards, as the device would sign them (values of fields()), changed by `edit`. */
function after3(
  w: World,
  count: number,
  edit: (f: ReturnType<typeof fields>) => void = () => {},
  prev?: Head,
): BuiltSegment {
  const from = prev ?? w.seg3.head;
  const f = fields(from, count, w.record.pricePerUnit);
  edit(f);
  return w.a.sign(from, count, f);
}

const withSignature = (s: Segment, signature: Uint8Array): Uint8Array => encodeSegment({ ...s, signature });

/** S + L: the same signature in a malleable encoding (S >= L) [P-2.2 step 2]. */
function malleable(signature: Uint8Array): Uint8Array {
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
  s += L;
  const out = signature.slice();
  for (let i = 32; i < 64; i++, s >>= 8n) out[i] = Number(s & 0xffn);
  return out;
}

export function segmentContext(w: World) {
  const other = w.channel({ nonce: 2n, deviceKey: w.other.publicKey });
  return {
    description:
      'A hub (the vector hub key, network tally-test) with two enrolled devices: the vector device with the vector channel, and the device of seed 0x03 with a channel of its own (nonce 2). The vector channel has accepted, committed and receipted segment3 (seq 1-3); the hub clock reads hubTimeMs; its reorder window has not run out unless a case says so. Each case starts from this state.',
    hubTimeMs: T0 + 60_000n,
    head: w.seg3.head,
    channels: [
      { deviceKey: w.device.publicKey, record: w.a.recordBytes, channelId: w.a.channelId },
      { deviceKey: w.other.publicKey, record: other.recordBytes, channelId: other.channelId },
    ],
    setup: [encodeSegment(w.seg3.segment)],
  };
}

export function segmentCases(w: World): SegmentCase[] {
  const own = topics.segment(toHex(w.device.publicKey));
  const seg64 = encodeSegment(w.seg64.segment);
  const head3 = 3n;
  const cases: SegmentCase[] = [];
  const add = (c: SegmentCase) => cases.push(c);

  // Accepted.
  add({
    name: 'next',
    description: 'Seq 4-67, linked to the head and signed.',
    clause: '5.3',
    topic: own,
    wire: seg64,
    counted: null,
    replies: [{ kind: 'receipt', seq: 67n }],
    verify: 'ok',
  });
  const seq1 = {
    seq: 1n,
    hash: w.seg3.hashes[0]!,
    cumUnits: w.seg3.segment.vouchers[0]!.cumUnits,
    cumAmount: w.seg3.segment.vouchers[0]!.cumAmount,
  };
  add({
    name: 'overlap',
    description:
      'Seq 2-5, agreeing with the stored seq 2-3 and going on: verified whole against the stored seq 1, only seq 4-5 added.',
    clause: '5.3',
    topic: own,
    wire: encodeSegment(after3(w, 4, undefined, seq1).segment),
    counted: null,
    replies: [{ kind: 'receipt', seq: 5n }],
  });
  add({
    name: 'duplicate',
    description: 'An exact copy of the stored seq 1-3: acknowledged again, not counted.',
    clause: '5.3',
    topic: own,
    wire: encodeSegment(w.seg3.segment),
    counted: 'DUPLICATE',
    replies: [{ kind: 'receipt', seq: 3n }],
  });

  // Placement.
  const otherTimes = fields(genesisHead(w.a.channelId), 3, w.record.pricePerUnit).map((f) => ({
    ...f,
    deviceTimeMs: f.deviceTimeMs + 1n,
  }));
  const equivocal = w.a.sign(genesisHead(w.a.channelId), 3, otherTimes);
  add({
    name: 'equivocation',
    description:
      'Seq 1-3 again, signed by the device, with other device times: two signed vouchers for one seq. Kept as evidence; only the first chain counts.',
    clause: '5.6',
    topic: own,
    wire: encodeSegment(equivocal.segment),
    counted: 'EQUIVOCATION',
    replies: [{ kind: 'reject', seq: head3, reason: 'EQUIVOCATION' }],
  });
  const badSig = equivocal.segment.signature.slice();
  badSig[0]! ^= 0x01;
  add({
    name: 'conflict-unsigned',
    description: 'The same conflicting seq 1-3 with a signature that does not verify: not evidence of anything.',
    clause: '5.6',
    topic: own,
    wire: withSignature(equivocal.segment, badSig),
    counted: 'SIG_INVALID',
    replies: [],
  });
  const seq4 = after3(w, 1);
  add({
    name: 'gap',
    description:
      'Seq 5-6, signed, while the head is seq 3: it waits in the reorder buffer, and when the window runs out it is dropped and the device asked to re-send from the head.',
    clause: '5.3',
    topic: own,
    wire: encodeSegment(after3(w, 2, undefined, seq4.head).segment),
    afterReorderWindow: true,
    counted: 'HUB_REORDER_EXPIRED',
    replies: [{ kind: 'resync', headSeq: head3, reason: 'SEQ_GAP' }],
  });

  // Link, signature, voucher rules [P-4.5]: signed unless the signature is the defect.
  const unlinked = w.a.sign(
    { ...w.seg3.head, hash: new Uint8Array(32) },
    1,
    fields(w.seg3.head, 1, w.record.pricePerUnit),
  );
  add({
    name: 'bad-link',
    description: 'Seq 4 whose prevHash is not the hash of the stored seq 3 (signed over its own chain).',
    clause: '4.5',
    topic: own,
    wire: encodeSegment(unlinked.segment),
    counted: 'BAD_LINK',
    replies: [{ kind: 'resync', headSeq: head3, reason: 'BAD_LINK' }],
    verify: 'BAD_LINK',
  });
  const flipped = w.seg64.segment.signature.slice();
  flipped[10]! ^= 0x01;
  // A device gets no REJECT for a segment it did not sign [P-5.5]; a hub that had already chained
  // it rolls back and asks for a re-send from its verified head.
  const sigReplies: Reply[] = [];
  add({
    name: 'signature-wrong',
    description: 'Seq 4-67 with one bit of R flipped.',
    clause: '4.5',
    topic: own,
    wire: withSignature(w.seg64.segment, flipped),
    counted: 'SIG_INVALID',
    replies: sigReplies,
    repliesIfChainedFirst: [{ kind: 'resync', headSeq: head3, reason: 'SIG_INVALID' }],
    verify: 'SIG_INVALID',
  });
  add({
    name: 'signature-s-not-below-l',
    description: 'Seq 4-67 with S + L in place of S: the same signature, malleated [P-2.2 step 2].',
    clause: '4.5',
    topic: own,
    wire: withSignature(w.seg64.segment, malleable(w.seg64.segment.signature)),
    counted: 'SIG_INVALID',
    replies: sigReplies,
    verify: 'SIG_INVALID',
  });
  const smallR = w.seg64.segment.signature.slice();
  smallR.set(hexToBytes('01' + '00'.repeat(31)), 0);
  add({
    name: 'signature-small-order-r',
    description: 'Seq 4-67 whose R is the identity point [P-2.2 step 4].',
    clause: '4.5',
    topic: own,
    wire: withSignature(w.seg64.segment, smallR),
    counted: 'SIG_INVALID',
    replies: sigReplies,
    verify: 'SIG_INVALID',
  });
  add({
    name: 'units-not-increasing',
    description: 'Seq 4-5 where seq 5 repeats the units of seq 4.',
    clause: '4.3',
    topic: own,
    wire: encodeSegment(
      after3(w, 2, (f) => {
        f[1] = { ...f[1]!, cumUnits: f[0]!.cumUnits, cumAmount: f[0]!.cumAmount };
      }).segment,
    ),
    counted: 'UNITS_NOT_INCREASING',
    replies: [{ kind: 'reject', seq: 5n, reason: 'UNITS_NOT_INCREASING' }],
    verify: 'UNITS_NOT_INCREASING',
  });
  add({
    name: 'units-times-price-beyond-u64',
    description: 'Seq 4 with so many units that units x price does not fit in u64 (its amount unchanged from seq 3).',
    clause: '4.3',
    topic: own,
    wire: encodeSegment(
      after3(w, 1, (f) => {
        f[0] = { ...f[0]!, cumUnits: U64_MAX / 25n + 1n, cumAmount: w.seg3.head.cumAmount };
      }).segment,
    ),
    counted: 'U64_OVERFLOW',
    replies: [{ kind: 'reject', seq: 4n, reason: 'U64_OVERFLOW' }],
    verify: 'U64_OVERFLOW',
  });
  add({
    name: 'amount-not-units-times-price',
    description: 'Seq 4 whose amount is one minor unit above units x price.',
    clause: '4.3',
    topic: own,
    wire: encodeSegment(
      after3(w, 1, (f) => {
        f[0] = { ...f[0]!, cumAmount: f[0]!.cumAmount + 1n };
      }).segment,
    ),
    counted: 'AMOUNT_PRICE_MISMATCH',
    replies: [{ kind: 'reject', seq: 4n, reason: 'AMOUNT_PRICE_MISMATCH' }],
    verify: 'AMOUNT_PRICE_MISMATCH',
  });
  add({
    name: 'over-capacity',
    description:
      'Seq 4 at 40,001 units: 1,000,025 above the capacity of 1,000,000. Signed, so the channel is marked exhausted.',
    clause: '4.3',
    topic: own,
    wire: encodeSegment(
      after3(w, 1, (f) => {
        f[0] = { ...f[0]!, cumUnits: 40_001n, cumAmount: 40_001n * 25n };
      }).segment,
    ),
    counted: 'OVER_CAPACITY',
    replies: [
      { kind: 'reject', seq: 4n, reason: 'OVER_CAPACITY' },
      { kind: 'capacity', state: 'exhausted' },
    ],
    verify: 'OVER_CAPACITY',
  });

  // The channel's terms and the hub's clock [P-5.4].
  add({
    name: 'channel-expired',
    description: 'Seq 4-67 when the hub clock has reached the channel expiry.',
    clause: '5.4',
    topic: own,
    wire: seg64,
    hubTimeMs: w.record.expiresAtMs,
    counted: 'CHANNEL_EXPIRED',
    replies: [{ kind: 'reject', seq: 67n, reason: 'CHANNEL_EXPIRED' }],
    verify: 'ok',
  });
  add({
    name: 'channel-closed',
    description: 'Seq 4-67 after the operator closed the channel.',
    clause: '5.4',
    topic: own,
    wire: seg64,
    channelState: 'closed',
    counted: 'CHANNEL_CLOSED',
    replies: [{ kind: 'reject', seq: 67n, reason: 'CHANNEL_CLOSED' }],
    verify: 'ok',
  });

  // Authorization: no channel of the sender is concerned, so no reply [P-5.4].
  const unknown = w.channel({ nonce: 9n });
  add({
    name: 'unknown-channel',
    description: 'A signed segment of a channel (nonce 9) the hub never opened.',
    clause: '5.4',
    topic: own,
    wire: encodeSegment(unknown.sign(genesisHead(unknown.channelId), 1).segment),
    counted: 'UNKNOWN_CHANNEL',
    replies: [],
  });
  add({
    name: 'topic-mismatch',
    description: "Seq 4-67 of the vector channel on the other enrolled device's topic.",
    clause: '5.4',
    topic: topics.segment(toHex(w.other.publicKey)),
    wire: seg64,
    counted: 'TOPIC_MISMATCH',
    replies: [],
  });
  add({
    name: 'unknown-device',
    description: 'Seq 4-67 on the topic of a key the hub never enrolled.',
    clause: '5.4',
    topic: topics.segment(toHex(w.stranger.publicKey)),
    wire: seg64,
    counted: 'UNKNOWN_DEVICE',
    replies: [],
  });

  // Decoding [P-1.6, P-6.3, P-6.5]: no reply (nothing in the message can be trusted to name a channel).
  const decode = (name: string, description: string, wire: Uint8Array, counted: string) =>
    add({ name, description, clause: '6.5', topic: own, wire, counted, replies: [] });
  decode('empty', 'No bytes.', new Uint8Array(0), 'DECODE_EMPTY');
  decode('too-large', '24,717 bytes: one over the segment cap.', new Uint8Array(24_717).fill(1), 'DECODE_TOO_LARGE');
  decode('truncated', 'Seq 4-67 without its last byte.', seg64.subarray(0, seg64.length - 1), 'DECODE_TRUNCATED');
  const trailing = new Uint8Array(seg64.length + 1);
  trailing.set(seg64);
  decode('trailing', 'Seq 4-67 and one more byte.', trailing, 'DECODE_TRAILING');
  const edited = (at: number, value: number[]) => {
    const bytes = seg64.slice();
    bytes.set(value, at);
    return bytes;
  };
  decode('wrong-type', 'Seq 4-67 with the type byte of a receipt.', edited(0, [0x02]), 'DECODE_TYPE');
  decode('wrong-version', 'Seq 4-67 with version 2.', edited(1, [0x02]), 'DECODE_VERSION');
  decode('count-zero', 'A count of 0 vouchers.', edited(74, [0, 0]), 'DECODE_COUNT');
  decode('first-seq-zero', 'Seq 4-67 with firstSeq 0.', edited(34, [0, 0, 0, 0, 0, 0, 0, 0]), 'DECODE_FIELD');
  return cases;
}
