// Every dashboard route is documented in docs/api.md, like the rest of the API.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_ROUTES } from '../../hub/http/dashboard-routes.js';

const api = readFileSync('docs/api.md', 'utf8');
const headings = api.split('\n').filter((l) => l.startsWith('### '));

const documentedPath = (pattern: RegExp): string =>
  pattern.source
    .replace(/^\^|\$$/g, '')
    .replace(/\\\//g, '/')
    .replace('([0-9a-fA-F]{8,64})', '{id}')
    .replace('(\\d{1,19})', '{epoch}');

describe('dashboard documentation', () => {
  it('documents every dashboard route, the page and the live stream', () => {
    const wanted = [
      ...DASHBOARD_ROUTES.map((r) => `\`${r.method} ${documentedPath(r.pattern)}`),
      '`GET /`',
      '`GET /api/live`',
    ];
    for (const heading of wanted)
      expect(
        headings.some((l) => l.includes(heading)),
        heading,
      ).toBe(true);
  });
});
