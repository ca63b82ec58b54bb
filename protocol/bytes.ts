// Byte helpers shared by every codec. Bounds are checked by the callers (codec readers); these
// helpers are the small, fast building blocks.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

/** Lowercase or uppercase hex to bytes; undefined for odd length or a non-hex character. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Like fromHex, for trusted constants and tests: throws on bad input. */
export function hexToBytes(hex: string): Uint8Array {
  const bytes = fromHex(hex);
  if (bytes === undefined) throw new TypeError(`not a hex string: ${hex.slice(0, 16)}...`);
  return bytes;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export const U64_MAX = (1n << 64n) - 1n;

export function isU64(value: bigint): boolean {
  return value >= 0n && value <= U64_MAX;
}
