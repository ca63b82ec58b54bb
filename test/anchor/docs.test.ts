// Every anchoring code is documented in docs/settlement.md with the meaning the code gives it (the
// gas figures there are checked against a chain in chain.test.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ANCHOR_ERRORS, ANCHOR_VERDICTS } from '../../hub/anchor/index.js';

const doc = readFileSync('docs/settlement.md', 'utf8');

describe('docs/settlement.md', () => {
  it('lists every anchoring code with its meaning', () => {
    for (const [code, meaning] of Object.entries({ ...ANCHOR_VERDICTS, ...ANCHOR_ERRORS }))
      expect(doc, code).toContain(`| \`${code}\` | ${meaning} |`);
  });

  it('has an Anchoring section with the trust model and the gas figures', () => {
    for (const heading of ['## Anchoring', '### Trust model', '### Gas and cost']) expect(doc).toContain(heading);
  });
});
