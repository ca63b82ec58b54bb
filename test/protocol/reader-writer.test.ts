import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ByteReader, decodeFramed, runDecoder, type Frame } from '../../protocol/reader.js';
import { ByteWriter } from '../../protocol/writer.js';
import { U64_MAX } from '../../protocol/bytes.js';
import { REASONS } from '../../protocol/errors.js';

// A small framed message used to exercise the generic order of checks [P-1.6]:
// type 0x7e, version 1, u16 count (1..3), count x u64, string name (1..8, [a-z]).
const FRAME: Frame = { cap: 40, types: [0x7e], name: 'test message' };
function decodeTest(bytes: Uint8Array) {
  return decodeFramed(bytes, FRAME, (r) => {
    const n = r.count16(1, 3, 'count');
    const values: bigint[] = [];
    for (let i = 0; i < n; i++) values.push(r.u64('value'));
    const name = r.string(1, 8, /^[a-z]+$/, 'name');
    return { values, name };
  });
}
function encodeTest(values: bigint[], name: string): Uint8Array {
  const w = new ByteWriter(2 + 2 + 8 * values.length + 1 + name.length);
  w.u8(0x7e, 'type').u8(1, 'version').u16(values.length, 'count');
  for (const v of values) w.u64(v, 'value');
  return w.string(name, 'name').finish();
}

describe('ByteWriter', () => {
  it('writes big-endian fixed-width integers', () => {
    const bytes = new ByteWriter(15)
      .u8(0xab, 'a')
      .u16(0x0102, 'b')
      .u32(0x03040506, 'c')
      .u64(0x0708090a0b0c0d0en, 'd')
      .finish();
    expect(Array.from(bytes)).toEqual([0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });
  it('rejects values out of range instead of wrapping them [P-1.1]', () => {
    expect(() => new ByteWriter(8).u64(U64_MAX + 1n, 'x')).toThrow(TypeError);
    expect(() => new ByteWriter(8).u64(-1n, 'x')).toThrow(TypeError);
    expect(() => new ByteWriter(1).u8(256, 'x')).toThrow(TypeError);
    expect(() => new ByteWriter(2).u16(1.5, 'x')).toThrow(TypeError);
    expect(() => new ByteWriter(4).u32(-1, 'x')).toThrow(TypeError);
    expect(() => new ByteWriter(4).fixed(new Uint8Array(3), 4, 'x')).toThrow(TypeError);
    expect(() => new ByteWriter(4).string('é', 'x')).toThrow(TypeError);
  });
  it('refuses to finish a short buffer or overrun it', () => {
    expect(() => new ByteWriter(2).u8(1, 'x').finish()).toThrow(TypeError);
    expect(() => new ByteWriter(1).u16(1, 'x')).toThrow(TypeError);
  });
});

describe('ByteReader', () => {
  it('reads back what the writer wrote', () => {
    const bytes = encodeTest([0n, 1n, U64_MAX], 'abc');
    expect(decodeTest(bytes)).toEqual({ ok: true, value: { values: [0n, 1n, U64_MAX], name: 'abc' } });
  });
  it('copies fixed fields so values never alias the input', () => {
    const input = new Uint8Array([1, 2, 3]);
    const result = runDecoder(input, (r) => {
      const v = r.fixed(3, 'f');
      r.end();
      return v;
    });
    input[0] = 9;
    expect(result.ok && Array.from(result.value)).toEqual([1, 2, 3]);
  });
  it('tracks position and remaining', () => {
    const r = new ByteReader(new Uint8Array(10), 2);
    expect([r.position, r.remaining]).toEqual([2, 8]);
    r.u32('x');
    expect([r.position, r.remaining]).toEqual([6, 4]);
  });
});

describe('decodeFramed: order of checks [P-1.6]', () => {
  const good = encodeTest([5n], 'ab');
  const code = (bytes: Uint8Array) => {
    const r = decodeTest(bytes);
    return r.ok ? 'ok' : r.code;
  };
  it('checks the size cap before anything else', () => {
    const huge = new Uint8Array(41); // wrong type, wrong version, all zeros: still TOO_LARGE
    expect(code(huge)).toBe('DECODE_TOO_LARGE');
  });
  it('then emptiness, type, version', () => {
    expect(code(new Uint8Array(0))).toBe('DECODE_EMPTY');
    expect(code(Uint8Array.of(0x7d, 1))).toBe('DECODE_TYPE');
    expect(code(Uint8Array.of(0x7e))).toBe('DECODE_TRUNCATED');
    expect(code(Uint8Array.of(0x7e, 2))).toBe('DECODE_VERSION');
    expect(code(Uint8Array.of(0x7e, 0))).toBe('DECODE_VERSION');
  });
  it('then counts and lengths, before truncation of what they announce', () => {
    const bigCount = good.slice();
    bigCount[3] = 4;
    expect(code(bigCount)).toBe('DECODE_COUNT');
    const zeroCount = good.slice();
    zeroCount[3] = 0;
    expect(code(zeroCount)).toBe('DECODE_COUNT');
    const longName = good.slice();
    longName[12] = 9;
    expect(code(longName)).toBe('DECODE_COUNT');
  });
  it('reports truncation at every cut', () => {
    for (let n = 1; n < good.length; n++) {
      expect(['DECODE_TRUNCATED', 'DECODE_COUNT']).toContain(code(good.subarray(0, n)));
    }
  });
  it('rejects trailing bytes before a bad field value', () => {
    const badName = encodeTest([5n], 'aB');
    expect(code(badName)).toBe('DECODE_FIELD');
    const badNameAndTrailing = new Uint8Array([...badName, 0]);
    expect(code(badNameAndTrailing)).toBe('DECODE_TRAILING');
  });
  it('never throws, and always answers with a known code, on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = decodeTest(bytes);
        return r.ok || r.code in REASONS;
      }),
    );
  });
  it('answers DECODE_FIELD, not an exception, for a non-byte argument', () => {
    const r = decodeTest('nope' as unknown as Uint8Array);
    expect(r.ok ? 'ok' : r.code).toBe('DECODE_FIELD');
  });
});
