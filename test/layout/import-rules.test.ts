// The repository's import rules (scripts/import-rules.ts): no cycles, packages apart, hub/ folders
// importing downwards only. The first test checks the real tree; the others show the checker
// catches each kind of break, on small trees written to a temp dir.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGraph, HUB_LAYERS, importsOf, violations } from '../../scripts/import-rules.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Writes a tree of files and returns the rules it breaks. */
function check(files: Record<string, string>): string[] {
  dir = mkdtempSync(path.join(tmpdir(), 'tally-imports-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return violations(buildGraph(dir));
}

describe('import rules', () => {
  it('hold for the whole repository', () => {
    const graph = buildGraph(REPO);
    expect(graph.files.length).toBeGreaterThan(200);
    expect(violations(graph)).toEqual([]);
  });

  it('place every hub/ folder, in the order docs/hub.md draws them from the top down', () => {
    const doc = readFileSync(path.join(REPO, 'docs/hub.md'), 'utf8');
    const layout = doc.slice(doc.indexOf('## Layout'), doc.indexOf('## Ingest pipeline'));
    const drawn = [...layout.matchAll(/^\| `([^`]+)`( root)? \|/gm)].map((m) =>
      m[2] ? '' : m[1]!.replace(/^hub\//, '').replace(/\/$/, ''),
    );
    expect(drawn).toEqual([...HUB_LAYERS].reverse().flat());
    const onDisk = readdirSync(path.join(REPO, 'hub'), { withFileTypes: true }).filter((e) => e.isDirectory());
    for (const dir of onDisk) expect(HUB_LAYERS.flat(), dir.name).toContain(dir.name);
  });

  it('tell type-only imports from runtime ones', () => {
    const found = importsOf(
      'x.ts',
      [
        "import type { A } from './a.js';",
        "import { type B } from './b.js';",
        "import { C, type D } from './c.js';",
        "import './d.js';",
        "export type { E } from './e.js';",
        "export { F } from './f.js';",
        "const g = await import('./g.js');",
        "let h: import('./h.js').H;",
      ].join('\n'),
    );
    expect(found).toEqual([
      { specifier: './a.js', typeOnly: true },
      { specifier: './b.js', typeOnly: true },
      { specifier: './c.js', typeOnly: false },
      { specifier: './d.js', typeOnly: false },
      { specifier: './e.js', typeOnly: true },
      { specifier: './f.js', typeOnly: false },
      { specifier: './g.js', typeOnly: false },
      { specifier: './h.js', typeOnly: true },
    ]);
  });

  it('find a cycle, even one made only of types', () => {
    const found = check({
      'agent/a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
      'agent/b.ts': "import type { A } from './a.js';\nexport type B = A | 1;\n",
    });
    expect(found).toEqual(['import cycle: agent/a.ts -> agent/b.ts -> agent/a.ts']);
  });

  it('refuse an upward or sideways import between hub folders', () => {
    expect(
      check({
        'hub/model/registry.ts': "import { x } from '../ingest/pipeline.js';\nexport const y = x;\n",
        'hub/ingest/pipeline.ts': 'export const x = 1;\n',
      }),
    ).toEqual(['hub/model/registry.ts -> hub/ingest/pipeline.ts: hub/model/ may not import hub/ingest/ (upwards)']);
    expect(
      check({
        'hub/settlement/export.ts': "import type { X } from '../ingest/types.js';\nexport type Y = X;\n",
        'hub/ingest/types.ts': 'export type X = 1;\n',
      }),
    ).toEqual(['hub/settlement/export.ts -> hub/ingest/types.ts: hub/settlement/ may not import hub/ingest/ (peers)']);
  });

  it('let the browser dashboard take types, not code, from the hub', () => {
    const files = (line: string) => ({
      'hub/dashboard/types.ts': `${line}\nexport const z = 1;\n`,
      'hub/model/activity.ts': 'export type Snapshot = { at: number };\nexport const sample = () => 1;\n',
    });
    expect(check(files("import type { Snapshot } from '../model/activity.js';"))).toEqual([]);
    expect(check(files("import { sample } from '../model/activity.js';"))).toEqual([
      'hub/dashboard/types.ts -> hub/model/activity.ts: hub/dashboard/ takes only types from the rest of the hub',
    ]);
  });

  it('keep packages apart: agent and hub, bench and test', () => {
    expect(
      check({
        'agent/a.ts': "import { h } from '../hub/server.js';\nexport const a = h;\n",
        'hub/server.ts': 'export const h = 1;\n',
        'bench/b.ts': "import { t } from '../test/helpers/t.js';\nexport const b = t;\n",
        'test/helpers/t.ts': 'export const t = 1;\n',
      }),
    ).toEqual([
      'agent/a.ts -> hub/server.ts: agent/ may not import hub/',
      'bench/b.ts -> test/helpers/t.ts: bench/ may not import test/',
    ]);
  });

  it('keep pure code away from I/O, even through another file', () => {
    expect(
      check({
        'agent/chain.ts': "import { LIMIT } from './outbox/sqlite.js';\nexport const x = LIMIT;\n",
        'agent/outbox/sqlite.ts':
          "import Database from 'better-sqlite3';\nexport const LIMIT = 1;\nexport type D = Database;\n",
      }),
    ).toEqual(['pure code loads I/O: agent/chain.ts -> agent/outbox/sqlite.ts -> better-sqlite3']);
    // Types cost nothing at run time.
    expect(
      check({
        'agent/chain.ts': "import type { Row } from './outbox/sqlite.js';\nexport type X = Row;\n",
        'agent/outbox/sqlite.ts': "import Database from 'better-sqlite3';\nexport type Row = Database;\n",
      }),
    ).toEqual([]);
  });

  it('report an import that names no file', () => {
    expect(check({ 'protocol/a.ts': "export { x } from './gone.js';\n" })).toEqual([
      "protocol/a.ts: import './gone.js' names no file",
    ]);
  });
});
