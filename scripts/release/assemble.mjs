// Lays out one release folder and packs it: the bundled agent, the three small CommonJS modules
// better-sqlite3 needs at run time (its own lib/, bindings, file-uri-to-path) with one native
// binding per Node ABI, the systemd unit and the install script. Nothing of the hub, the
// dashboard or the build tools goes in.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { ARCHES, bindingDir } from './targets.mjs';

// The files each runtime module needs; everything else in its npm package (C sources, docs,
// tests, build scripts) stays out.
const RUNTIME_MODULES = {
  'better-sqlite3': ['package.json', 'LICENSE', 'lib'],
  bindings: ['package.json', 'LICENSE.md', 'bindings.js'],
  'file-uri-to-path': ['package.json', 'LICENSE', 'index.js'],
};

function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/**
 * Writes <outDir>/<name>/ and <outDir>/<name>.tar.gz; returns the archive path.
 * `bindings` maps each Node release ({abi, major, version}) to a built better_sqlite3.node.
 */
export function assemble({ root, outDir, version, commit, mtime, arch, bindings }) {
  const name = `tally-agent-${version}-linux-${arch}`;
  const dir = join(outDir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  copyFileSync(join(root, 'dist', 'tally-agent.js'), join(dir, 'tally-agent.js'));
  copyFileSync(join(root, 'packaging', 'agent', 'tally-agent.service'), join(dir, 'tally-agent.service'));
  copyFileSync(join(root, 'packaging', 'agent', 'install.sh'), join(dir, 'install.sh'));
  chmodSync(join(dir, 'install.sh'), 0o755);
  for (const [mod, parts] of Object.entries(RUNTIME_MODULES)) {
    for (const part of parts) {
      cpSync(join(root, 'node_modules', mod, part), join(dir, 'node_modules', mod, part), { recursive: true });
    }
  }
  const sqliteDir = join(dir, 'node_modules', 'better-sqlite3');
  for (const { release, file } of bindings) {
    const target = join(sqliteDir, bindingDir(release.abi, ARCHES[arch].node));
    mkdirSync(target, { recursive: true });
    copyFileSync(file, join(target, 'better_sqlite3.node'));
  }
  const sqliteVersion = JSON.parse(readFileSync(join(sqliteDir, 'package.json'), 'utf8')).version;
  writeFileSync(join(dir, 'VERSION'), `${version}\n`);
  const manifest = {
    name: 'tally-agent',
    version,
    commit,
    arch,
    nodeArch: ARCHES[arch].node,
    node: bindings.map(({ release }) => ({ major: release.major, abi: release.abi, headers: release.version })),
    betterSqlite3: sqliteVersion,
  };
  writeFileSync(join(dir, 'RELEASE.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const sums = filesUnder(dir)
    .map((f) => `${createHash('sha256').update(readFileSync(f)).digest('hex')}  ${relative(dir, f)}`)
    .join('\n');
  writeFileSync(join(dir, 'SHA256SUMS'), `${sums}\n`);

  // Sorted names, fixed owner and the commit's time: the archive depends only on the files.
  const archive = `${name}.tar.gz`;
  execFileSync(
    'sh',
    [
      '-c',
      `tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@${mtime} -cf - "$1" | gzip -9n > "$2"`,
      'sh',
      name,
      archive,
    ],
    { cwd: outDir, stdio: 'inherit' },
  );
  return join(outDir, archive);
}
