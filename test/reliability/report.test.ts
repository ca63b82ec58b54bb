// scripts/reliability-report.ts: the table is made from the records as they are (a failure shows
// as FAIL, a pipe in a text cannot break the table), only the generated part of the doc changes,
// and docs/reliability.md documents every knob the suite reads.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderTable, replaceGenerated } from '../../scripts/reliability-report.js';

const record = (over: Record<string, unknown>) =>
  ({
    suite: 's',
    case: 'c',
    expected: 'e',
    observed: 'o',
    figures: {},
    state: 'pass',
    settings: {},
    finishedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  }) as Parameters<typeof renderTable>[0][number];

describe('reliability report', () => {
  it('renders one row per record, marks failures, and escapes pipes', () => {
    const table = renderTable([
      record({ case: 'a | b', figures: { lost: '0', recoveryMs: 12 } }),
      record({ case: 'broken', state: 'fail', settings: { TALLY_FUZZ_RUNS: 5 } }),
    ]);
    expect(table).toContain('2 cases, 1 passed, 1 failed');
    expect(table).toContain('TALLY_FUZZ_RUNS=5');
    expect(table).toContain('| a \\| b | pass |');
    expect(table).toContain('| broken | **FAIL** |');
    expect(table.split('\n').filter((l) => l.startsWith('| s |'))).toHaveLength(2);
  });

  it('replaces only the text between the markers', () => {
    const doc = readFileSync('docs/reliability.md', 'utf8');
    const out = replaceGenerated(doc, 'TABLE');
    expect(out).toContain('TABLE');
    expect(out.slice(0, 200)).toBe(doc.slice(0, 200));
    expect(out.slice(-300)).toBe(doc.slice(-300));
    expect(() => replaceGenerated('no markers', 'x')).toThrow(/markers/);
  });

  it('documents every environment knob the suite reads', () => {
    const doc = readFileSync('docs/reliability.md', 'utf8');
    const knobs = new Set<string>();
    for (const f of readdirSync('test/reliability').filter((n) => n.endsWith('.ts'))) {
      for (const m of readFileSync(`test/reliability/${f}`, 'utf8').matchAll(/TALLY_[A-Z_]+/g)) knobs.add(m[0]);
    }
    expect(knobs.size).toBeGreaterThan(3);
    for (const k of knobs) expect(doc, k).toContain(k);
  });
});
