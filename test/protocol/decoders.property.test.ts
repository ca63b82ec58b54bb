// Every decoder attacked with corrupted input [P-1.6]: random bytes, truncation at every length,
// trailing bytes, wrong version, wrong type, huge counts and lengths, zeroed input. The answer is
// always a Result with a known reason code, never an exception; and valid values round-trip exactly.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeChannelRecord,
  decodeControl,
  decodeEntry,
  decodeEpochRecord,
  decodeReceipt,
  decodeSegment,
  decodeStatus,
  decodeVoucher,
  encodeChannelRecord,
  encodeControl,
  encodeEntry,
  encodeEpochRecord,
  encodeReceipt,
  encodeSegment,
  encodeStatus,
  encodeVoucher,
  capOf,
  peekType,
  REASONS,
  SIZE_CAPS,
  type ReasonCode,
  type Result,
} from '../../protocol/index.js';
import * as arb from './arbitraries.js';
import { hub } from './fixtures.js';

interface Subject<T> {
  name: string;
  arb: fc.Arbitrary<T>;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): Result<unknown>;
  /** Offset of the version byte; wire messages also carry their type at 0. */
  versionAt: number;
  /** Versions the decoder reads (default: 1 only). */
  versions?: readonly number[];
  types?: readonly number[];
  cap?: number;
  /** [offset, width] of every count or length field of an encoding. */
  counts(bytes: Uint8Array): Array<[number, 1 | 2]>;
  /** The code for an all-zero input of the right length. */
  zeroCode: ReasonCode;
}

const recordCounts = (bytes: Uint8Array, at: number): Array<[number, 1 | 2]> => {
  const unitAt = at + 2 + bytes[at + 1]! + 64;
  const counts: Array<[number, 1 | 2]> = [
    [at + 1, 1],
    [unitAt, 1],
  ];
  // Version 2 carries the currency string after the unit [P-3.1].
  if (bytes[at] === 2) counts.push([unitAt + 1 + bytes[unitAt]!, 1]);
  return counts;
};

// Each subject has its own value type; the table only needs them side by side.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const subjects: Subject<any>[] = [
  {
    name: 'segment',
    arb: arb.segment,
    encode: encodeSegment,
    decode: decodeSegment,
    versionAt: 1,
    types: [0x01],
    cap: SIZE_CAPS.segment,
    counts: () => [[74, 2]],
    zeroCode: 'DECODE_TYPE',
  },
  {
    name: 'receipt',
    arb: arb.receipt,
    encode: encodeReceipt,
    decode: decodeReceipt,
    versionAt: 1,
    types: [0x02],
    cap: SIZE_CAPS.receipt,
    counts: () => [],
    zeroCode: 'DECODE_TYPE',
  },
  {
    name: 'status',
    arb: arb.status,
    encode: encodeStatus,
    decode: decodeStatus,
    versionAt: 1,
    types: [0x04],
    cap: SIZE_CAPS.status,
    counts: () => [],
    zeroCode: 'DECODE_TYPE',
  },
  {
    name: 'control',
    arb: arb.control,
    encode: (c) => encodeControl(c, hub.secretKey),
    decode: (b) => decodeControl(b, hub.publicKey),
    versionAt: 1,
    types: [0x10, 0x11, 0x12, 0x13],
    cap: SIZE_CAPS.control,
    counts: (b) => (b[0] === 0x10 ? [[2, 2], ...recordCounts(b, 4)] : []),
    zeroCode: 'DECODE_TYPE',
  },
  {
    name: 'channel record',
    arb: arb.channelRecord,
    encode: encodeChannelRecord,
    decode: decodeChannelRecord,
    versionAt: 0,
    versions: [1, 2],
    counts: (b) => recordCounts(b, 0),
    zeroCode: 'DECODE_VERSION',
  },
  {
    name: 'voucher',
    arb: arb.voucher,
    encode: encodeVoucher,
    decode: decodeVoucher,
    versionAt: -1,
    counts: () => [],
    zeroCode: 'DECODE_FIELD',
  },
  {
    name: 'settlement entry',
    arb: arb.entry,
    encode: encodeEntry,
    decode: decodeEntry,
    versionAt: 0,
    counts: () => [],
    zeroCode: 'DECODE_VERSION',
  },
  {
    name: 'epoch record',
    arb: arb.epochRecord,
    encode: encodeEpochRecord,
    decode: decodeEpochRecord,
    versionAt: 0,
    counts: () => [[1, 1]],
    zeroCode: 'DECODE_VERSION',
  },
];

/** Decodes without letting an exception escape unnoticed; returns the code ('ok' on success). */
function outcome(subject: Subject<unknown>, bytes: Uint8Array): string {
  const r = subject.decode(bytes);
  if (r.ok) return 'ok';
  if (!Object.hasOwn(REASONS, r.code)) throw new Error(`unknown code ${String(r.code)}`);
  return r.code;
}

const valid = (s: Subject<unknown>) => s.arb.map((v) => s.encode(v));

for (const s of subjects) {
  describe(`decode ${s.name}`, () => {
    it('round-trips every valid value exactly', () => {
      fc.assert(
        fc.property(s.arb, (value) => {
          const decoded = s.decode(s.encode(value));
          expect(decoded).toEqual({ ok: true, value });
        }),
        { numRuns: 60 },
      );
    });

    it('answers random bytes with a known code, never an exception', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => void outcome(s, bytes)),
        { numRuns: 300 },
      );
    });

    it('answers random bytes behind a valid type and version the same way', () => {
      const prefix =
        s.versionAt === 1 ? fc.constantFrom(...s.types!).map((t) => [t, 1]) : fc.constant(s.versionAt === 0 ? [1] : []);
      fc.assert(
        fc.property(
          prefix,
          fc.uint8Array({ maxLength: 400 }),
          (p, rest) => void outcome(s, new Uint8Array([...p, ...rest])),
        ),
        { numRuns: 300 },
      );
    });

    it('rejects every truncation of a valid encoding', () => {
      fc.assert(
        fc.property(valid(s), (bytes) => {
          expect(outcome(s, bytes.subarray(0, 0))).toBe('DECODE_EMPTY');
          for (let n = 1; n < bytes.length; n++) expect(outcome(s, bytes.subarray(0, n))).not.toBe('ok');
        }),
        { numRuns: 25 },
      );
    });

    it('rejects trailing bytes', () => {
      fc.assert(
        fc.property(valid(s), fc.uint8Array({ minLength: 1, maxLength: 16 }), (bytes, extra) => {
          const code = outcome(s, new Uint8Array([...bytes, ...extra]));
          const expected =
            s.cap !== undefined && bytes.length + extra.length > s.cap ? 'DECODE_TOO_LARGE' : 'DECODE_TRAILING';
          expect(code).toBe(expected);
        }),
        { numRuns: 60 },
      );
    });

    if (s.versionAt >= 0) {
      it('rejects every other version', () => {
        fc.assert(
          fc.property(
            valid(s),
            fc.integer({ min: 0, max: 255 }).filter((v) => !(s.versions ?? [1]).includes(v)),
            (bytes, version) => {
              const copy = bytes.slice();
              copy[s.versionAt] = version;
              expect(outcome(s, copy)).toBe('DECODE_VERSION');
            },
          ),
          { numRuns: 60 },
        );
      });
    }

    if (s.types !== undefined) {
      it('rejects every other type', () => {
        fc.assert(
          fc.property(
            valid(s),
            fc.integer({ min: 0, max: 255 }).filter((t) => !s.types!.includes(t)),
            (bytes, type) => {
              const copy = bytes.slice();
              copy[0] = type;
              expect(outcome(s, copy)).toBe('DECODE_TYPE');
            },
          ),
          { numRuns: 60 },
        );
      });

      it('rejects anything over the size cap before reading it', () => {
        fc.assert(
          fc.property(valid(s), fc.integer({ min: 1, max: 5000 }), (bytes, extra) => {
            const huge = new Uint8Array(s.cap! + extra);
            huge.set(bytes);
            expect(outcome(s, huge)).toBe('DECODE_TOO_LARGE');
          }),
          { numRuns: 30 },
        );
      });
    }

    it('rejects huge and zero counts and lengths', () => {
      fc.assert(
        fc.property(valid(s), (bytes) => {
          for (const [at, width] of s.counts(bytes)) {
            for (const value of [0, width === 1 ? 0xff : 0xffff]) {
              const copy = bytes.slice();
              if (width === 1) copy[at] = value;
              else new DataView(copy.buffer).setUint16(at, value);
              expect(outcome(s, copy), `count at ${at} = ${value}`).toBe('DECODE_COUNT');
            }
          }
        }),
        { numRuns: 40 },
      );
    });

    it('rejects zeroed input of any length with the expected code', () => {
      fc.assert(
        fc.property(valid(s), (bytes) => {
          expect(outcome(s, new Uint8Array(bytes.length))).toBe(s.zeroCode);
        }),
        { numRuns: 20 },
      );
      expect(outcome(s, new Uint8Array(1))).not.toBe('ok');
    });

    it('never throws on a valid encoding with bytes overwritten', () => {
      fc.assert(
        fc.property(
          valid(s),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
          (bytes, edits) => {
            const copy = bytes.slice();
            for (const [i, b] of edits) copy[i % copy.length] = b;
            void outcome(s, copy);
          },
        ),
        { numRuns: 200 },
      );
    });

    it('answers a non-byte argument with a code', () => {
      expect(outcome(s, 'abc' as unknown as Uint8Array)).toBe('DECODE_FIELD');
      expect(outcome(s, null as unknown as Uint8Array)).toBe('DECODE_FIELD');
    });
  });
}

describe('peekType', () => {
  it('names every wire type and nothing else', () => {
    const known: Record<number, string> = {
      1: 'segment',
      2: 'receipt',
      4: 'status',
      0x10: 'grant',
      0x11: 'resync',
      0x12: 'capacity',
      0x13: 'reject',
    };
    for (let t = 0; t < 256; t++) {
      const r = peekType(Uint8Array.of(t, 1));
      expect(r.ok ? r.value : r.code).toBe(known[t] ?? 'DECODE_TYPE');
    }
    const empty = peekType(new Uint8Array(0));
    expect(empty.ok ? 'ok' : empty.code).toBe('DECODE_EMPTY');
  });

  it('gives each kind the cap of clause 6.3', () => {
    const caps = (['segment', 'receipt', 'status', 'grant', 'resync', 'capacity', 'reject'] as const).map(capOf);
    expect(caps).toEqual([24_716, 162, 55, 512, 512, 512, 512]);
  });
});
