import { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, toHex } from '../../protocol/bytes.js';
import { sha256, tag, TAG_NAMES, taggedHash, type TagName } from '../../protocol/hash.js';

const ascii = (s: string) => new TextEncoder().encode(s);

// An independent SHA-256 path (WebCrypto) over the explicitly concatenated input.
async function referenceSha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  return new Uint8Array(await webcrypto.subtle.digest('SHA-256', concatBytes(...parts)));
}

describe('sha256', () => {
  it('matches the FIPS 180-2 known answers', () => {
    expect(toHex(sha256(ascii('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(sha256())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes the concatenation of its parts', async () => {
    expect(sha256(ascii('a'), ascii(''), ascii('bc'))).toEqual(await referenceSha256(ascii('abc')));
  });

  it('returns a plain Uint8Array of 32 bytes', () => {
    const digest = sha256(ascii('x'));
    expect(digest.constructor).toBe(Uint8Array);
    expect(digest.length).toBe(32);
  });
});

describe('tag [P-1.4]', () => {
  it('is the ASCII of tally/v1/<name> followed by one 0x00 byte', () => {
    // 'tally/v1/voucher' spelled out byte by byte, then the terminator.
    expect(toHex(tag('voucher'))).toBe('74616c6c792f76312f766f756368657200');
    expect(toHex(tag('mqtt-auth'))).toBe('74616c6c792f76312f6d7174742d6175746800');
  });

  it('covers exactly the tag table of clause 1.4', () => {
    expect([...TAG_NAMES].sort()).toEqual(
      [
        'channel',
        'channel-sig',
        'voucher',
        'segment',
        'receipt',
        'control',
        'merkle-leaf',
        'merkle-node',
        'merkle-empty',
        'epoch',
        'mqtt-auth',
        'partition',
      ].sort(),
    );
    for (const name of TAG_NAMES) {
      const bytes = tag(name);
      expect(bytes).toEqual(concatBytes(ascii(`tally/v1/${name}`), Uint8Array.of(0)));
      // Exactly one 0x00, at the end: no tag is a prefix of another.
      expect(bytes.indexOf(0)).toBe(bytes.length - 1);
    }
  });

  it('hands out copies, so a caller cannot corrupt the cached tag', () => {
    const first = tag('receipt');
    first.fill(0xff);
    expect(toHex(tag('receipt'))).toBe(toHex(concatBytes(ascii('tally/v1/receipt'), Uint8Array.of(0))));
    expect(taggedHash('receipt')).toEqual(sha256(ascii('tally/v1/receipt'), Uint8Array.of(0)));
  });

  it('throws on a name outside the table (untyped callers)', () => {
    expect(() => tag('nope' as TagName)).toThrow(TypeError);
    expect(() => taggedHash('voucher\0' as TagName)).toThrow(TypeError);
  });
});

describe('taggedHash', () => {
  it('equals SHA-256 of tag || parts computed independently', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...TAG_NAMES),
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 5 }),
        async (name, parts) => {
          const expected = await referenceSha256(ascii(`tally/v1/${name}`), Uint8Array.of(0), ...parts);
          expect(taggedHash(name, ...parts)).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('separates domains: the same parts under two tags hash differently', () => {
    const body = ascii('same bytes');
    expect(toHex(taggedHash('voucher', body))).not.toBe(toHex(taggedHash('segment', body)));
  });
});
