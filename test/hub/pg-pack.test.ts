// packBytes: the byte strings a PostgreSQL group commit sends as one binary parameter. Each item
// must come back exactly (substring from its 1-based start, for its length), an empty item as
// empty and a missing one as NULL (len -1); the SQL side is covered by the store contract suite.
import { expect, it } from 'vitest';
import { bytesAt, packBytes } from '../../hub/store/postgres/pack.js';

it('packs items back to back with 1-based starts, and marks a missing item with length -1', () => {
  const items = [Uint8Array.of(1, 2, 3), null, new Uint8Array(0), Uint8Array.of(9), undefined, Uint8Array.of(7, 8)];
  const p = packBytes(items);
  expect([...p.blob]).toEqual([1, 2, 3, 9, 7, 8]);
  expect(p.lens).toEqual([3, -1, 0, 1, -1, 2]);
  const back = p.lens.map((len, i) =>
    len < 0 ? null : [...p.blob.subarray(p.starts[i]! - 1, p.starts[i]! - 1 + len)],
  );
  expect(back).toEqual([[1, 2, 3], null, [], [9], null, [7, 8]]);
});

it('writes the SQL that takes one item back, NULL for a missing one', () => {
  expect(bytesAt('$1', 's', 'l')).toBe('CASE WHEN l < 0 THEN NULL ELSE substring($1::bytea FROM s FOR l) END');
});
