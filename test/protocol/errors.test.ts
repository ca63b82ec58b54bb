// Every reason code is documented in clause 9 of docs/protocol.md with the same number, and the
// table documents nothing the code lacks [P-9].
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fail, ok, REASONS, reasonFromNumber, type ReasonCode } from '../../protocol/errors.js';

const spec = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const clause9 = spec.slice(spec.indexOf('## 9. Reason codes'));
const documented = new Map<string, number>();
for (const match of clause9.matchAll(/^\| (\d+) \| ([A-Z0-9_]+) \|/gm)) documented.set(match[2]!, Number(match[1]));

describe('reason codes [P-9]', () => {
  it('finds the clause 9 table', () => {
    expect(clause9.startsWith('## 9. Reason codes')).toBe(true);
    expect(documented.size).toBeGreaterThan(20);
  });

  it('documents every code in protocol/errors.ts with the same number', () => {
    const inCode = Object.fromEntries(Object.entries(REASONS).map(([code, r]) => [code, r.no]));
    expect(Object.fromEntries(documented)).toEqual(inCode);
  });

  it('gives every code a distinct number that fits the u16 of REJECT and RESYNC', () => {
    const numbers = Object.values(REASONS).map((r) => r.no);
    expect(new Set(numbers).size).toBe(numbers.length);
    for (const n of numbers) expect(n >= 1 && n <= 0xffff).toBe(true);
  });

  it('maps wire numbers back to codes, and unknown numbers to undefined', () => {
    for (const code of Object.keys(REASONS) as ReasonCode[]) expect(reasonFromNumber(REASONS[code].no)).toBe(code);
    expect(reasonFromNumber(0)).toBeUndefined();
    expect(reasonFromNumber(9999)).toBeUndefined();
  });

  it('builds results', () => {
    expect(ok(3)).toEqual({ ok: true, value: 3 });
    expect(fail('SEQ_GAP')).toEqual({ ok: false, code: 'SEQ_GAP' });
    expect(fail('SEQ_GAP', 'why')).toEqual({ ok: false, code: 'SEQ_GAP', detail: 'why' });
  });
});
