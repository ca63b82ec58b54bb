// Tally's strict pre-checks on an Ed25519 signature [P-2.2, steps 1-4]. Both backends run them
// before their own equation check, so noble and node:crypto share one policy byte for byte and give
// one verdict on every input. This runs once per signature on the hub's hot path: only length
// checks and byte comparisons, no allocation, no big-integer or point arithmetic.
//
// All encodings are little-endian (RFC 8032 section 5.1.2): byte 31 of a point holds the top bits of
// y and, in its high bit, the sign of x; byte 31 of S is its most significant byte.

export const PUBLIC_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;

// L = 2^252 + 27742317777372353535851937790883648493, little-endian (RFC 8032 section 5.1).
const L_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
]);

/** S < L for the 32-byte little-endian scalar at `bytes[offset..offset+32)` [P-2.2 step 2]. */
export function isScalarBelowL(bytes: Uint8Array, offset: number): boolean {
  // Compare from the most significant byte down; the first difference decides.
  for (let i = 31; i >= 0; i--) {
    const b = bytes[offset + i]!;
    const l = L_LE[i]!;
    if (b !== l) return b < l;
  }
  return false; // S == L
}

/**
 * y < p for the point encoding at `bytes[offset..offset+32)` [P-2.2 step 3], p = 2^255 - 19.
 * With the sign bit masked off, y >= p only when y is p .. 2^255-1: byte 31 is 0x7f, bytes 1..30
 * are 0xff and byte 0 is at least 0xed (p's low byte).
 */
export function isCanonicalY(bytes: Uint8Array, offset: number): boolean {
  if ((bytes[offset + 31]! & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (bytes[offset + i] !== 0xff) return true;
  return bytes[offset]! < 0xed;
}

// The 14 encodings of the 8 small-order points: 8 canonical ones, 2 with x = -0 and 4 with y >= p
// (C2SP CCTV ed25519 README, "Low-order edwards25519 point encodings"). The y >= p ones are
// already rejected by isCanonicalY; they stay listed so this table is the CCTV list verbatim.
export const SMALL_ORDER_ENCODINGS: readonly string[] = Object.freeze([
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 4, y > p
  '0000000000000000000000000000000000000000000000000000000000000080', // order 4
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', // order 4, y > p
  '0100000000000000000000000000000000000000000000000000000000000000', // order 1 (identity)
  '0100000000000000000000000000000000000000000000000000000000000080', // order 1, x = -0
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 1, y > p
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', // order 1, x = -0, y > p
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', // order 2, x = -0
]);

const SMALL_ORDER_BYTES: readonly Uint8Array[] = SMALL_ORDER_ENCODINGS.map((hex) =>
  Uint8Array.from(Buffer.from(hex, 'hex')),
);

/** The point encoding at `bytes[offset..offset+32)` is one of the 14 above [P-2.2 step 4]. */
export function isSmallOrderEncoding(bytes: Uint8Array, offset: number): boolean {
  for (const candidate of SMALL_ORDER_BYTES) {
    // The first byte differs for almost every input, so this is usually 14 byte comparisons.
    let i = 0;
    while (i < 32 && bytes[offset + i] === candidate[i]) i++;
    if (i === 32) return true;
  }
  return false;
}

/**
 * Steps 1-4 of clause 2.2, in its order: lengths, S < L, canonical A and R, neither A nor R a
 * small-order encoding. True means the signature may go on to the backend's equation check
 * (step 5); false means it is invalid. Never throws on a Uint8Array of any length.
 */
export function passesStrictPrechecks(signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false;
  if (!isScalarBelowL(signature, 32)) return false;
  if (!isCanonicalY(publicKey, 0) || !isCanonicalY(signature, 0)) return false;
  return !isSmallOrderEncoding(publicKey, 0) && !isSmallOrderEncoding(signature, 0);
}
