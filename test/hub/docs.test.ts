// Every error code, hub reason code and HTTP route is documented (the fastify habit: a table in code,
// a test that the docs keep up with it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_ERRORS } from '../../hub/base/api-errors.js';
import { ROUTES } from '../../hub/http/routes.js';
import { HUB_REASONS } from '../../hub/base/reasons.js';

const api = readFileSync('docs/api.md', 'utf8');
const hub = readFileSync('docs/hub.md', 'utf8');

/** A route's regex as the docs write it: /api/devices/{publicKey}. */
function documentedPath(pattern: RegExp): string {
  return pattern.source
    .replace(/^\^|\$$/g, '')
    .replace(/\\\//g, '/')
    .replace('/api/devices/([0-9a-fA-F]{64})', '/api/devices/{publicKey}')
    .replace('([0-9a-fA-F]{8,64})', '{id}')
    .replace('(\\d{1,19})', '{epoch}')
    .replace('(\\d{1,18})', '{id}');
}

describe('documentation', () => {
  it('lists every API error code with its HTTP status in docs/api.md, and no other', () => {
    for (const [code, { status }] of Object.entries(API_ERRORS))
      expect(api, code).toContain(`| \`${code}\` | ${status} |`);
    const documented = [...api.matchAll(/^\| `(API_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(API_ERRORS).sort());
  });

  it('documents every route in docs/api.md, and marks the admin ones', () => {
    for (const route of ROUTES) {
      const heading = `\`${route.method} ${documentedPath(route.pattern)}`;
      const line = api.split('\n').find((l) => l.startsWith('### ') && l.includes(heading));
      expect(line, heading).toBeDefined();
      expect(line!.includes('(admin)'), heading).toBe(route.admin);
    }
  });

  it('lists every hub reason code in docs/hub.md with its message, and no other', () => {
    for (const code of Object.keys(HUB_REASONS)) expect(hub, code).toContain(`| \`${code}\` |`);
    // The docs may set names in code type (`seg`); the words are the table's.
    const documented = Object.fromEntries(
      [...hub.matchAll(/^\| `(HUB_[A-Z_]+)` \| ([^|]+) \|$/gm)].map((m) => [m[1], m[2]!.replace(/`/g, '')]),
    );
    expect(documented).toEqual(Object.fromEntries(Object.entries(HUB_REASONS).map(([c, r]) => [c, r.message])));
  });
});
