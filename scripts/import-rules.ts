// The import rules of the repository, checked over the TypeScript import graph (type-only imports
// included: a cycle of types still ties files together). `npx tsx scripts/import-rules.ts` prints
// every violation and exits 1; test/layout/import-rules.test.ts runs the same check.
//   - no file reaches itself through its imports (no cycles, runtime or type-only);
//   - packages: protocol/ imports nothing of the project, common/ nothing either, agent/ and hub/
//     only those two and never each other; bench/ and scripts/ never import test/;
//   - hub/ folders import downwards only, in the order of HUB_LAYERS (docs/hub.md draws it);
//     hub/dashboard/ runs in the browser and takes only types from the rest of the hub;
//   - pure code (protocol/, agent/chain.ts) loads no I/O module, not even through another file.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOTS = [
  'protocol',
  'common',
  'verifier',
  'agent',
  'hub',
  'simulator',
  'support',
  'test',
  'bench',
  'scripts',
];

/** What each top-level folder may import besides itself (and Node or npm packages). */
export const PACKAGE_RULES: Record<string, readonly string[]> = {
  protocol: [],
  common: [],
  // The standalone bundle verifier: protocol only, so it bundles with no native dependency.
  verifier: ['protocol'],
  agent: ['protocol', 'common'],
  hub: ['protocol', 'common', 'verifier'],
  simulator: ['protocol', 'common', 'agent', 'hub'],
  support: ['protocol', 'common', 'agent', 'hub', 'simulator'],
  test: ['protocol', 'common', 'verifier', 'agent', 'hub', 'simulator', 'support', 'scripts'],
  bench: ['protocol', 'common', 'agent', 'hub', 'simulator', 'support'],
  scripts: ['protocol', 'common', 'agent', 'hub', 'simulator', 'support'],
};

/**
 * hub/ folders from the bottom up; a folder imports only from rows below its own. Folders in one
 * row are peers and do not import each other. '' is the hub/ root: the two entry points.
 */
export const HUB_LAYERS: readonly (readonly string[])[] = [
  ['base'],
  ['store'],
  ['model'],
  ['ingest', 'settlement', 'broker', 'anchor', 'webhooks'],
  ['core'],
  // A cluster member drives a whole core: its leases decide what the core serves.
  ['cluster'],
  ['http'],
  ['cli'],
  ['', 'dashboard'],
];

/** Files (or folders, ending in /) that do no I/O, and the modules that would bring it. */
export const PURE = ['protocol/', 'agent/chain.ts'];
const IO_MODULE =
  /^(node:)?(fs|fs\/promises|net|tls|http|https|http2|dgram|child_process|worker_threads|cluster)$|^(better-sqlite3|mqtt|aedes)$/;

/** Runs in the browser: may take types, not code, from the rest of the hub. */
const TYPE_ONLY_FOLDERS = new Set(['dashboard']);

export interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

export interface Graph {
  files: string[];
  edges: Edge[];
  /** Relative imports that name no file. */
  unresolved: { from: string; specifier: string }[];
  /** Imports of packages and Node modules (code, not types). */
  externals: { from: string; specifier: string }[];
}

const SOURCE = /\.(ts|mts|mjs)$/;
const DECLARATION = /\.d\.(ts|mts)$/;

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (SOURCE.test(name) && !DECLARATION.test(name)) out.push(full);
  }
}

/** Every module specifier of a file, and whether only types come through it. */
export function importsOf(fileName: string, text: string): { specifier: string; typeOnly: boolean }[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const found: { specifier: string; typeOnly: boolean }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allNamedTypes =
        named !== undefined && ts.isNamedImports(named) && named.elements.every((e) => e.isTypeOnly);
      const typeOnly = clause !== undefined && (clause.isTypeOnly || (clause.name === undefined && allNamedTypes));
      found.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.exportClause;
      const typeOnly =
        node.isTypeOnly ||
        (clause !== undefined && ts.isNamedExports(clause) && clause.elements.every((e) => e.isTypeOnly));
      found.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push({ specifier: node.arguments[0].text, typeOnly: false });
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      found.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The file a relative specifier names (`./x.js` is `./x.ts` in the source tree), or undefined. */
function resolve(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  const candidates = [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.mjs$/, '.mts'),
    base,
    `${base}.ts`,
    path.join(base, 'index.ts'),
  ];
  return candidates.find((c) => SOURCE.test(c) && existsSync(c) && statSync(c).isFile());
}

/** The import graph of the repository's own files (paths relative to `repo`, with `/`). */
export function buildGraph(repo: string, roots: readonly string[] = ROOTS): Graph {
  const absolute: string[] = [];
  for (const root of roots) if (existsSync(path.join(repo, root))) walk(path.join(repo, root), absolute);
  const rel = (p: string) => path.relative(repo, p).split(path.sep).join('/');
  const graph: Graph = { files: absolute.map(rel).sort(), edges: [], unresolved: [], externals: [] };
  for (const file of absolute) {
    for (const { specifier, typeOnly } of importsOf(file, readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) {
        if (!typeOnly) graph.externals.push({ from: rel(file), specifier });
        continue;
      }
      const target = resolve(file, specifier);
      if (target === undefined) {
        // Data files (JSON) and assets are not modules of the graph.
        if (!/\.(json|css|html)$/.test(specifier)) graph.unresolved.push({ from: rel(file), specifier });
        continue;
      }
      graph.edges.push({ from: rel(file), to: rel(target), typeOnly });
    }
  }
  return graph;
}

/** Groups of files that import each other in a circle (Tarjan's strongly connected components). */
export function cycles(graph: Pick<Graph, 'files' | 'edges'>): string[][] {
  const next = new Map<string, string[]>();
  for (const f of graph.files) next.set(f, []);
  for (const e of graph.edges) {
    if (!next.has(e.from)) next.set(e.from, []);
    next.get(e.from)!.push(e.to);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const strong = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (next.get(v) ?? []).includes(v)) found.push(group.sort());
    }
  };
  for (const v of next.keys()) if (!index.has(v)) strong(v);
  return found;
}

/** I/O modules a file loads, directly or through the files it imports (code only), with the path. */
function ioReachedFrom(graph: Graph, start: string): string[] {
  const found: string[] = [];
  const via = new Map<string, string>([[start, '']]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    const path = via.get(file) === '' ? file : `${via.get(file)} -> ${file}`;
    for (const x of graph.externals)
      if (x.from === file && IO_MODULE.test(x.specifier)) found.push(`${path} -> ${x.specifier}`);
    for (const e of graph.edges) {
      if (e.from !== file || e.typeOnly || via.has(e.to)) continue;
      via.set(e.to, path);
      queue.push(e.to);
    }
  }
  return found;
}

/** One actual loop inside a group that cycles(): from its first file back to it, shortest first. */
function loopThrough(graph: Pick<Graph, 'edges'>, group: string[]): string[] {
  const inGroup = new Set(group);
  const start = group[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const e of graph.edges) {
      if (e.from !== v || !inGroup.has(e.to)) continue;
      if (e.to === start) {
        const path = [start];
        for (let w = v; w !== start; w = cameFrom.get(w)!) path.splice(1, 0, w);
        return [...path, start];
      }
      if (!cameFrom.has(e.to)) {
        cameFrom.set(e.to, v);
        queue.push(e.to);
      }
    }
  }
  return group;
}

const packageOf = (file: string): string => file.split('/')[0]!;

/** hub/<folder>/... -> folder; hub/<file> -> ''. */
const hubFolderOf = (file: string): string => {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1]! : '';
};

const hubRank = (folder: string): number => HUB_LAYERS.findIndex((row) => row.includes(folder));

/** Every broken rule, one line each; empty when the graph keeps them all. */
export function violations(graph: Graph): string[] {
  const out: string[] = [];
  for (const u of graph.unresolved) out.push(`${u.from}: import '${u.specifier}' names no file`);
  for (const group of cycles(graph)) out.push(`import cycle: ${loopThrough(graph, group).join(' -> ')}`);
  for (const file of graph.files) {
    if (!PURE.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p))) continue;
    for (const reach of ioReachedFrom(graph, file)) out.push(`pure code loads I/O: ${reach}`);
  }
  for (const e of graph.edges) {
    const from = packageOf(e.from);
    const to = packageOf(e.to);
    if (from !== to) {
      const allowed = PACKAGE_RULES[from];
      if (allowed !== undefined && !allowed.includes(to))
        out.push(`${e.from} -> ${e.to}: ${from}/ may not import ${to}/`);
      continue;
    }
    if (from !== 'hub') continue;
    const a = hubFolderOf(e.from);
    const b = hubFolderOf(e.to);
    if (a === b) continue;
    if (TYPE_ONLY_FOLDERS.has(a)) {
      if (!e.typeOnly) out.push(`${e.from} -> ${e.to}: hub/${a}/ takes only types from the rest of the hub`);
      continue;
    }
    const ra = hubRank(a);
    const rb = hubRank(b);
    if (ra < 0) out.push(`${e.from}: hub/${a}/ has no place in HUB_LAYERS`);
    else if (rb < 0) out.push(`${e.to}: hub/${b}/ has no place in HUB_LAYERS`);
    else if (rb >= ra) {
      const where = (f: string) => (f === '' ? 'the hub/ root' : `hub/${f}/`);
      out.push(`${e.from} -> ${e.to}: ${where(a)} may not import ${where(b)} (${rb === ra ? 'peers' : 'upwards'})`);
    }
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const graph = buildGraph(repo);
  const found = violations(graph);
  for (const line of found) console.log(line);
  console.log(`${graph.files.length} files, ${graph.edges.length} imports, ${found.length} violation(s)`);
  process.exitCode = found.length === 0 ? 0 : 1;
}
