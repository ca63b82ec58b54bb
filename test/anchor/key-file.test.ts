// The anchoring key comes from a file only, refused when others can read it or when it is not
// exactly one valid secp256k1 key.
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAnchorKey, writeAnchorKey } from '../../hub/anchor/index.js';
import { tempDir } from '../hub/helpers/hub.js';

describe('anchor key file', () => {
  const tmp = tempDir('tally-anchor-key-');
  afterAll(() => tmp.cleanup());
  let n = 0;
  const file = (content: string, mode = 0o600) => {
    const path = join(tmp.dir, `k${n++}`);
    writeFileSync(path, content, { mode });
    chmodSync(path, mode);
    return path;
  };
  const key = `0x${'1f'.repeat(32)}`;

  it('reads 64 hex digits, with or without 0x, upper or lower case, around whitespace', () => {
    expect(readAnchorKey(file(`${key}\n`))).toBe(key);
    expect(readAnchorKey(file(`  ${key.slice(2).toUpperCase()}  \n`))).toBe(key);
  });

  it.each([
    ['group-readable', 0o640],
    ['world-readable', 0o604],
    ['group-writable', 0o620],
  ])('refuses a %s file (ANCHOR_KEY_MODE)', (_name, mode) => {
    expect(() => readAnchorKey(file(`${key}\n`, mode))).toThrow(expect.objectContaining({ code: 'ANCHOR_KEY_MODE' }));
  });

  it.each([
    ['an empty file', ''],
    ['63 digits', key.slice(0, -1)],
    ['65 digits', `${key}0`],
    ['two keys', `${key}\n${key}\n`],
    ['a non-hex digit', `${key.slice(0, -1)}z`],
    ['the zero key', `0x${'00'.repeat(32)}`],
    ['the group order', '0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141'],
  ])('refuses %s (ANCHOR_KEY_FORMAT)', (_name, content) => {
    expect(() => readAnchorKey(file(content))).toThrow(expect.objectContaining({ code: 'ANCHOR_KEY_FORMAT' }));
  });

  it('refuses a missing file (ANCHOR_KEY_FILE)', () => {
    expect(() => readAnchorKey(join(tmp.dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ANCHOR_KEY_FILE' }));
  });

  it('writes a new key with mode 0600 and never overwrites one', () => {
    const path = join(tmp.dir, 'written');
    writeAnchorKey(path, key as `0x${string}`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readAnchorKey(path)).toBe(key);
    expect(() => writeAnchorKey(path, `0x${'2e'.repeat(32)}`)).toThrow(
      expect.objectContaining({ code: 'ANCHOR_KEY_FILE' }),
    );
    expect(readAnchorKey(path)).toBe(key);
  });
});
