// Bounds-checked reading of untrusted bytes [P-1.5, P-1.6]. A decoder reads its fields in the order
// of the spec's table; the reader stops at the first structural problem (truncated input, a count or
// length out of bounds) and remembers the first field-value problem (alphabet, range) until the
// structure has been checked to the end, so every decoder reports failures in one order:
// size cap, empty, type, version, lengths, trailing bytes, then field values [P-1.6].
// Nothing here throws to the caller: `runDecoder` turns every failure into a Result.

import { fail, ok, type ReasonCode, type Result } from './errors.js';

/** Internal signal that unwinds a decoder; never escapes runDecoder. */
class DecodeFailure {
  constructor(
    readonly code: ReasonCode,
    readonly detail: string,
  ) {}
}

export class ByteReader {
  private offset: number;
  private readonly view: DataView;
  private fieldError: DecodeFailure | undefined;

  constructor(
    private readonly bytes: Uint8Array,
    offset = 0,
  ) {
    this.offset = offset;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Claims `n` bytes or stops the decoder with DECODE_TRUNCATED. */
  private take(n: number, what: string): number {
    if (n > this.bytes.length - this.offset) {
      throw new DecodeFailure('DECODE_TRUNCATED', `${what}: needs ${n} bytes, ${this.remaining} left`);
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  u8(what: string): number {
    return this.bytes[this.take(1, what)]!;
  }

  u16(what: string): number {
    return this.view.getUint16(this.take(2, what));
  }

  u32(what: string): number {
    return this.view.getUint32(this.take(4, what));
  }

  u64(what: string): bigint {
    return this.view.getBigUint64(this.take(8, what));
  }

  /** A copy of the next `n` bytes: decoded values never alias a buffer the caller may reuse. */
  fixed(n: number, what: string): Uint8Array {
    const at = this.take(n, what);
    return this.bytes.slice(at, at + n);
  }

  /** A u16 count that must lie in `min..max`, else DECODE_COUNT. */
  count16(min: number, max: number, what: string): number {
    const n = this.u16(what);
    if (n < min || n > max) throw new DecodeFailure('DECODE_COUNT', `${what} ${n} not in ${min}..${max}`);
    return n;
  }

  /**
   * A string `u8 length || bytes` [P-1.5]: a length outside `min..max` is DECODE_COUNT at once; a
   * character outside `alphabet` (an anchored pattern over ASCII) is a deferred DECODE_FIELD.
   */
  string(min: number, max: number, alphabet: RegExp, what: string): string {
    const n = this.u8(`${what} length`);
    if (n < min || n > max) throw new DecodeFailure('DECODE_COUNT', `${what} length ${n} not in ${min}..${max}`);
    const at = this.take(n, what);
    let text = '';
    for (let i = at; i < at + n; i++) text += String.fromCharCode(this.bytes[i]!);
    this.check(alphabet.test(text), `${what} outside its alphabet`);
    return text;
  }

  /** Records the first field-value failure; reported only once the structure is known good. */
  check(condition: boolean, detail: string, code: ReasonCode = 'DECODE_FIELD'): void {
    if (!condition && this.fieldError === undefined) this.fieldError = new DecodeFailure(code, detail);
  }

  /** Stops the decoder now with `code` (for structural failures found by the caller). */
  stop(code: ReasonCode, detail: string): never {
    throw new DecodeFailure(code, detail);
  }

  /** Rejects trailing bytes, then reports the first deferred field failure, if any. */
  end(): void {
    if (this.remaining !== 0)
      throw new DecodeFailure('DECODE_TRAILING', `${this.remaining} bytes after the last field`);
    if (this.fieldError !== undefined) throw this.fieldError;
  }
}

/**
 * Runs `read` over `bytes` and turns a decode failure into a Result. `read` must call `r.end()`
 * (directly or through decodeFramed). A genuine programming error still propagates.
 */
export function runDecoder<T>(bytes: Uint8Array, read: (r: ByteReader) => T): Result<T> {
  if (!(bytes instanceof Uint8Array)) return fail('DECODE_FIELD', 'not a byte array');
  if (bytes.length === 0) return fail('DECODE_EMPTY');
  try {
    return ok(read(new ByteReader(bytes)));
  } catch (e) {
    if (e instanceof DecodeFailure) return fail(e.code, e.detail);
    throw e;
  }
}

export interface Frame {
  /** The size cap of the message type [P-6.3]. */
  readonly cap: number;
  /** Accepted type bytes (one for most messages, four for control). */
  readonly types: readonly number[];
  readonly name: string;
}

/**
 * Decodes a wire message `u8 type || u8 version || ...` [P-1.6]: the size cap is checked before
 * anything else (a huge payload costs nothing), then emptiness, type, version; `read` gets the type
 * byte and a reader positioned after the version, and trailing bytes are rejected after it returns.
 */
export function decodeFramed<T>(bytes: Uint8Array, frame: Frame, read: (r: ByteReader, type: number) => T): Result<T> {
  if (bytes instanceof Uint8Array && bytes.length > frame.cap) {
    return fail('DECODE_TOO_LARGE', `${frame.name}: ${bytes.length} bytes, cap ${frame.cap}`);
  }
  return runDecoder(bytes, (r) => {
    const type = r.u8('type');
    if (!frame.types.includes(type)) r.stop('DECODE_TYPE', `type 0x${type.toString(16)} is not a ${frame.name}`);
    const version = r.u8('version');
    if (version !== 1) r.stop('DECODE_VERSION', `version ${version}`);
    const value = read(r, type);
    r.end();
    return value;
  });
}
