// Every agent code, every option and its environment variable are documented in docs/agent.md.
// The codes both ways: the "Logs" table lists exactly AGENT_CODES, at their levels, and every code
// an agent source logs is in the table.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_CODES } from '../../agent/codes.js';
import { CRASH_ENV, OPTIONS } from '../../agent/config.js';

const doc = readFileSync(new URL('../../docs/agent.md', import.meta.url), 'utf8');
const logs = doc.slice(doc.indexOf('## Logs'), doc.indexOf('\n## ', doc.indexOf('## Logs') + 1));
const listed = new Map(
  [...logs.matchAll(/^\| `([A-Z0-9_]+)` \| (trace|debug|info|warn|error|fatal) \|/gm)].map((m) => [m[1]!, m[2]!]),
);
const agentSources = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return agentSources(path);
    return path.endsWith('.ts') && !path.endsWith('codes.ts') ? [path] : [];
  });
const agentText = agentSources('agent')
  .map((p) => readFileSync(p, 'utf8'))
  .join('\n');

describe('docs/agent.md', () => {
  it.each(Object.keys(AGENT_CODES))('documents the code %s', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });
  it.each(Object.entries(OPTIONS).map(([name, spec]) => [name, spec.env]))(
    'documents option %s and %s',
    (name, env) => {
      expect(doc).toContain(`\`${env}\``);
      expect(doc).toContain(`\`${name}\``);
    },
  );
  it('lists every code under Logs at its level, and nothing else', () => {
    expect(Object.fromEntries(listed)).toEqual(
      Object.fromEntries(Object.entries(AGENT_CODES).map(([code, def]) => [code, def.level])),
    );
  });
  it('has every code an agent source logs in the table', () => {
    const used = [
      ...agentText.matchAll(/\b(?:log|logThrottled|event)\(\s*'([A-Z0-9_]+)'/g),
      ...agentText.matchAll(/\bcode: '([A-Z0-9_]+)'/g),
      ...agentText.matchAll(/exitOnFatal\([^,]+,\s*'([A-Z0-9_]+)'/g),
    ].map((m) => m[1]!);
    expect(used.length).toBeGreaterThan(20);
    for (const code of used) expect(AGENT_CODES, code).toHaveProperty(code);
  });
  it('documents the test-only crash hook', () => {
    expect(doc).toContain(CRASH_ENV);
  });
});
