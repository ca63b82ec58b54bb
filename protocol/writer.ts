// Canonical encoding into a buffer of known size [P-1.1, P-1.5]. Encoders are given values the
// caller built, so a value out of range is a programming error: the writer throws a TypeError
// rather than wrapping or truncating it (a wrapped u64 would silently move money) [P-1.1].

import { isU64 } from './bytes.js';

export class ByteWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private offset = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  private claim(n: number, what: string): number {
    if (this.offset + n > this.bytes.length) throw new TypeError(`${what}: writer overrun`);
    const at = this.offset;
    this.offset += n;
    return at;
  }

  private int(value: number, max: number, what: string): void {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new TypeError(`${what} must be an integer in 0..${max}, got ${String(value)}`);
    }
  }

  u8(value: number, what: string): this {
    this.int(value, 0xff, what);
    this.bytes[this.claim(1, what)] = value;
    return this;
  }

  u16(value: number, what: string): this {
    this.int(value, 0xffff, what);
    this.view.setUint16(this.claim(2, what), value);
    return this;
  }

  u32(value: number, what: string): this {
    this.int(value, 0xffffffff, what);
    this.view.setUint32(this.claim(4, what), value);
    return this;
  }

  u64(value: bigint, what: string): this {
    if (typeof value !== 'bigint' || !isU64(value)) throw new TypeError(`${what} must be a u64 bigint`);
    this.view.setBigUint64(this.claim(8, what), value);
    return this;
  }

  /** Exactly `length` bytes; anything else is a programming error. */
  fixed(value: Uint8Array, length: number, what: string): this {
    if (!(value instanceof Uint8Array) || value.length !== length) {
      throw new TypeError(`${what} must be ${length} bytes`);
    }
    this.bytes.set(value, this.claim(length, what));
    return this;
  }

  /** `u8 length || ASCII bytes` [P-1.5]; the caller has already checked the alphabet. */
  string(value: string, what: string): this {
    this.u8(value.length, `${what} length`);
    const at = this.claim(value.length, what);
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c > 0x7f) throw new TypeError(`${what} must be ASCII`);
      this.bytes[at + i] = c;
    }
    return this;
  }

  /** The encoded bytes; throws if fewer were written than the size computed up front. */
  finish(): Uint8Array {
    if (this.offset !== this.bytes.length) {
      throw new TypeError(`encoder wrote ${this.offset} of ${this.bytes.length} bytes`);
    }
    return this.bytes;
  }
}

/** Size of a string field `u8 length || bytes` [P-1.5]. */
export const stringSize = (value: string): number => 1 + value.length;
