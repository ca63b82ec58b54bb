// Official Node.js builds from the npm registry's binary packages (node-linux-<arch>@<version>),
// fetched with npm itself and kept in a cache directory. They give the release build its Node
// headers (include/node) and the ARM check its Node runtime; nothing else is downloaded.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Returns the unpacked package directory (with bin/node and include/node) of node-linux-<arch> at
 * `version`, fetching it once into `cacheDir`.
 */
export function nodeDist(cacheDir, nodeArch, version) {
  const dir = join(cacheDir, `node-v${version}-linux-${nodeArch}`);
  if (existsSync(join(dir, 'bin', 'node')) && existsSync(join(dir, 'include', 'node', 'node_version.h'))) return dir;
  mkdirSync(cacheDir, { recursive: true });
  const spec = `node-linux-${nodeArch}@${version}`;
  const tgz = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', cacheDir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop();
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['-xzf', join(cacheDir, tgz), '-C', tmp, '--strip-components=1'], { stdio: 'inherit' });
  rmSync(join(cacheDir, tgz), { force: true });
  if (!readdirSync(tmp).includes('include')) throw new Error(`${spec}: the package has no include/ directory`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}
