// Every agent code, every option and its environment variable are documented in docs/agent.md.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AGENT_CODES } from '../../agent/codes.js';
import { CRASH_ENV, OPTIONS } from '../../agent/config.js';

const doc = readFileSync(new URL('../../docs/agent.md', import.meta.url), 'utf8');

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
  it('documents the test-only crash hook', () => {
    expect(doc).toContain(CRASH_ENV);
  });
});
