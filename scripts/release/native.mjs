// Builds better-sqlite3's native addon for one CPU architecture and one Node ABI: node-gyp against
// the official Node headers, with Debian's cross toolchain (g++-aarch64-linux-gnu,
// g++-arm-linux-gnueabihf) for the ARM targets. Results are cached by everything that goes into
// them (better-sqlite3's version and gyp file, the headers, the compiler), so a rebuild of the
// artifact only compiles what changed.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ARCHES } from './targets.mjs';

// e_machine of the ELF header: what the addon was really compiled for.
const ELF_MACHINE = { x64: 0x3e, arm64: 0xb7, armhf: 0x28 };

export function toolchain(arch) {
  const t = ARCHES[arch].triplet;
  const p = (tool) => (t === undefined ? tool : `${t}-${tool}`);
  return { CC: p('gcc'), CXX: p('g++'), AR: p('ar'), LINK: p('g++'), STRIP: p('strip'), NM: p('nm') };
}

/** Says which compilers are missing, with the Debian packages that provide them. */
export function missingToolchains(arches) {
  const missing = [];
  for (const arch of arches) {
    const { CXX } = toolchain(arch);
    try {
      execFileSync(CXX, ['--version'], { stdio: 'ignore' });
    } catch {
      missing.push(ARCHES[arch].triplet === undefined ? 'g++' : `g++-${ARCHES[arch].triplet}`);
    }
  }
  return missing;
}

function nodeGyp() {
  // npm runs scripts with npm_config_node_gyp pointing at its bundled node-gyp; outside npm, find
  // the same copy beside npm itself.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
  const beside = join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(beside)) return beside;
  throw new Error('node-gyp not found: run this through npm (npm run release:agent)');
}

function elfMachine(file) {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(20);
  readSync(fd, head, 0, 20, 0);
  if (head.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file`);
  return head.readUInt16LE(18);
}

function run(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${out.slice(-4000)}`)),
    );
  });
}

/**
 * Returns the path of a stripped better_sqlite3.node for `arch` and Node `release`, compiling it
 * unless the cache already has it.
 */
export async function buildBinding({ arch, release, headersDir, sourceDir, cacheDir }) {
  const tools = toolchain(arch);
  const compiler = execFileSync(tools.CXX, ['--version'], { encoding: 'utf8' }).split('\n')[0];
  const pkg = JSON.parse(readFileSync(join(sourceDir, 'package.json'), 'utf8'));
  const key = createHash('sha256')
    .update(
      [pkg.version, readFileSync(join(sourceDir, 'binding.gyp'), 'utf8'), release.version, arch, compiler].join('\0'),
    )
    .digest('hex')
    .slice(0, 16);
  const cached = join(
    cacheDir,
    `better-sqlite3-${pkg.version}-node-v${release.abi}-linux-${ARCHES[arch].node}-${key}.node`,
  );
  if (existsSync(cached)) return { file: cached, built: false };

  const work = mkdtempSync(join(tmpdir(), `tally-sqlite-${arch}-${release.abi}-`));
  try {
    for (const part of ['binding.gyp', 'package.json', 'src', 'deps'])
      cpSync(join(sourceDir, part), join(work, part), { recursive: true });
    const gypArgs = ['rebuild', '--release', `--arch=${ARCHES[arch].gyp}`, `--nodedir=${headersDir}`, '--jobs=1'];
    // npm passes its configuration to scripts as npm_config_* variables, and node-gyp lets them
    // override its command line: a machine whose npm sets nodedir would build every ABI against
    // its own Node's headers. Only the flags above may choose the target.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
    Object.assign(env, tools);
    await run(process.execPath, [nodeGyp(), ...gypArgs], { cwd: work, env });
    const out = join(work, 'build', 'Release', 'better_sqlite3.node');
    execFileSync(tools.STRIP, ['--strip-unneeded', out]);
    const machine = elfMachine(out);
    if (machine !== ELF_MACHINE[arch])
      throw new Error(`${arch} build produced an ELF for machine 0x${machine.toString(16)}`);
    // Node refuses an addon registered for another ABI: check the registration symbol here rather
    // than on the board.
    const symbols = execFileSync(tools.NM, ['-D', '--defined-only', out], { encoding: 'utf8' });
    const registered = /node_register_module_v(\d+)/.exec(symbols)?.[1];
    if (registered !== String(release.abi)) {
      throw new Error(
        `${arch} binding for Node ${release.major} registers ABI ${registered ?? 'none'}, not ${release.abi}`,
      );
    }
    mkdirSync(cacheDir, { recursive: true });
    copyFileSync(out, `${cached}.partial`);
    renameSync(`${cached}.partial`, cached);
    return { file: cached, built: true };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
