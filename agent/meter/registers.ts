// Decodes a counter from Modbus registers. Modbus sends each 16-bit register high byte first
// (Modbus Application Protocol Specification V1.1b3, 4.2: "MODBUS uses a 'big-Endian'
// representation for addresses and data items"), but says nothing about how a 32- or 64-bit
// value spans registers, so meters differ: `order` names the byte order of the value as the
// letters of its big-endian bytes would be received, the usual notation of Modbus tools:
//   ABCD  high word first, as the Eastron SDM series sends its float32 values;
//   CDAB  low word first ("word swap");  BADC  bytes swapped in each word;  DCBA  both.
// For 64-bit values the same rule applies word by word.
import { float32ToDecimal, float64ToDecimal, toNanos, type Decimal } from './decimal.js';
import type { Parsed } from './params.js';

export const REGISTER_TYPES = ['uint16', 'uint32', 'uint64', 'float32', 'float64'] as const;
export type RegisterType = (typeof REGISTER_TYPES)[number];
export const WORD_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export type WordOrder = (typeof WORD_ORDERS)[number];

/** Registers (16-bit words) each type spans. */
export const WORDS: Record<RegisterType, number> = { uint16: 1, uint32: 2, uint64: 4, float32: 2, float64: 4 };

/** Puts received register bytes into big-endian order. */
export function reorder(bytes: Uint8Array, order: WordOrder): Uint8Array {
  const words: number[][] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) words.push([bytes[i]!, bytes[i + 1]!]);
  if (order === 'CDAB' || order === 'DCBA') words.reverse();
  if (order === 'BADC' || order === 'DCBA') for (const w of words) w.reverse();
  return Uint8Array.from(words.flat());
}

/** The counter the registers hold, as an exact decimal. NaN, infinities and negatives are refused. */
export function decodeRegisters(bytes: Uint8Array, type: RegisterType, order: WordOrder): Parsed<Decimal> {
  if (bytes.length !== WORDS[type] * 2) {
    return { ok: false, reason: `expected ${WORDS[type]} registers, got ${bytes.length / 2}` };
  }
  const view = new DataView(reorder(bytes, order).buffer);
  switch (type) {
    case 'uint16':
      return { ok: true, value: { coef: BigInt(view.getUint16(0)), exp: 0 } };
    case 'uint32':
      return { ok: true, value: { coef: BigInt(view.getUint32(0)), exp: 0 } };
    case 'uint64':
      return { ok: true, value: { coef: view.getBigUint64(0), exp: 0 } };
    case 'float32':
    case 'float64': {
      const x = type === 'float32' ? view.getFloat32(0) : view.getFloat64(0);
      if (!Number.isFinite(x)) return { ok: false, reason: `register holds ${x}` };
      if (x < 0) return { ok: false, reason: `negative reading ${x}` };
      return { ok: true, value: type === 'float32' ? float32ToDecimal(x) : float64ToDecimal(x) };
    }
  }
}

/** Where a fixed-width integer register wraps, in nano-units after scaling; floats and uint64
 *  (which no meter fills) do not wrap. */
export function wrapOf(type: RegisterType, scale: Decimal): bigint | undefined {
  const bits = type === 'uint16' ? 16n : type === 'uint32' ? 32n : undefined;
  if (bits === undefined) return undefined;
  const wrap = toNanos({ coef: 1n << bits, exp: 0 }, scale);
  return wrap.ok ? wrap.value : undefined;
}
