// One table of protocol reason codes [P-9]. The number travels on the wire (REJECT, RESYNC);
// the name is what logs, metrics and APIs show. docs/protocol.md lists the same table and
// test/protocol/errors.test.ts fails if the two drift apart; test/hub/reason-codes.test.ts fails if
// a code here is emitted by nothing, or an emitted code is missing.

export const REASONS = {
  DECODE_EMPTY: { no: 1, message: 'empty message' },
  DECODE_TOO_LARGE: { no: 2, message: 'message over the size cap of its type' },
  DECODE_TRUNCATED: { no: 3, message: 'message shorter than its fields say' },
  DECODE_TRAILING: { no: 4, message: 'bytes after the last field' },
  DECODE_TYPE: { no: 5, message: 'unknown or unexpected message type' },
  DECODE_VERSION: { no: 6, message: 'unsupported protocol version' },
  DECODE_COUNT: { no: 7, message: 'a count or length out of its bounds' },
  DECODE_FIELD: { no: 8, message: 'a field outside its alphabet or range' },
  KEY_LENGTH: { no: 20, message: 'public key is not 32 bytes' },
  KEY_NOT_ON_CURVE: { no: 21, message: 'public key does not decode to a curve point' },
  KEY_NON_CANONICAL: { no: 22, message: 'public key is a non-canonical encoding' },
  KEY_SMALL_ORDER: { no: 23, message: 'public key is a small-order point' },
  SIG_INVALID: { no: 30, message: 'signature does not verify' },
  WRONG_CHANNEL: { no: 40, message: 'names another channel, hub or network' },
  SEQ_GAP: { no: 41, message: 'seqs missing: beyond the head + 1, or between bundles' },
  SEQ_STALE: { no: 42, message: 'seqs already taken: at or below the head, or billed twice' },
  BAD_LINK: { no: 43, message: 'a hash does not link to the one before' },
  UNITS_NOT_INCREASING: { no: 44, message: 'a voucher carries no new unit' },
  AMOUNT_DECREASED: { no: 45, message: 'cumulative amount went down' },
  AMOUNT_PRICE_MISMATCH: { no: 46, message: 'amount is not units x price' },
  OVER_CAPACITY: { no: 47, message: "cumulative amount above the channel's capacity" },
  U64_OVERFLOW: { no: 48, message: 'a value does not fit in u64' },
  EQUIVOCATION: { no: 49, message: 'a different signed voucher for a seq already stored' },
  DUPLICATE: { no: 50, message: 'an exact copy of stored vouchers (acknowledged, not counted)' },
  CHANNEL_EXPIRED: { no: 60, message: "voucher after the channel's expiry" },
  CHANNEL_CLOSED: { no: 61, message: 'channel closed or revoked, or its device revoked' },
  UNKNOWN_DEVICE: { no: 62, message: 'no enrolled device for this key' },
  UNKNOWN_CHANNEL: { no: 63, message: 'no channel with this id' },
  TOPIC_MISMATCH: { no: 64, message: "the channel belongs to another device than the topic's" },
  REORDER_OVERFLOW: { no: 65, message: 'reorder buffer full' },
  CREDENTIAL_WINDOW: { no: 66, message: "broker credential issued outside the hub's time window" },
  PROOF_INVALID: { no: 70, message: "a bundle's entry, proof or total disagrees with the signed evidence" },
} as const satisfies Record<string, { no: number; message: string }>;

export type ReasonCode = keyof typeof REASONS;

/** The result of every decoder and verifier: a value, or a reason. Never an exception. */
export type Result<T> = { ok: true; value: T } | { ok: false; code: ReasonCode; detail?: string };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(code: ReasonCode, detail?: string): Result<T> =>
  detail === undefined ? { ok: false, code } : { ok: false, code, detail };

const byNumber = new Map<number, ReasonCode>(
  (Object.keys(REASONS) as ReasonCode[]).map((code) => [REASONS[code].no, code]),
);

/** The code for a wire number, or undefined for a number this version does not know. */
export function reasonFromNumber(no: number): ReasonCode | undefined {
  return byNumber.get(no);
}
