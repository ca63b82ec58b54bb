// What the agent's release artifact is built for: one table of CPU architectures and one of
// Node.js majors. better-sqlite3 is a V8 addon (not N-API), so its binary is tied to the Node
// ABI (process.versions.modules) as well as to the CPU: the artifact carries one binding per
// supported ABI and the install script picks the board's Node by that number.

/** Node.js releases whose headers the bindings are compiled against, from the npm registry's
 *  official binary packages (node-linux-<arch>, which carry include/node). */
export const NODE_RELEASES = Object.freeze([
  // Debian 13 and Raspberry Pi OS (Trixie) ship Node.js 20.19 as `nodejs`: the one Node a
  // 32-bit board gets from its distribution, and the development machine's Node.
  { major: 20, version: '20.20.2', abi: 115 },
  // The last LTS with official 32-bit ARM (armv7l) builds; maintained until April 2027.
  { major: 22, version: '22.23.3', abi: 127 },
  // The current LTS the artifact recommends for 64-bit boards and servers.
  { major: 24, version: '24.22.0', abi: 137 },
]);

/** The Node.js release the install guide recommends on 64-bit boards. */
export const RECOMMENDED_NODE = NODE_RELEASES.find((r) => r.major === 24);

/**
 * Release architectures. `node` is process.arch on that board, `gyp` the node-gyp --arch, `triplet`
 * the Debian cross toolchain (g++-<triplet>) that builds on an x64 host; none for x64 itself.
 * `majors` lists the Node majors that exist for the architecture: Node.js 24 has no official
 * armv7l build, so armhf stops at 22.
 */
export const ARCHES = Object.freeze({
  x64: { node: 'x64', gyp: 'x64', triplet: undefined, majors: [20, 22, 24], debian: 'amd64' },
  arm64: { node: 'arm64', gyp: 'arm64', triplet: 'aarch64-linux-gnu', majors: [20, 22, 24], debian: 'arm64' },
  armhf: { node: 'arm', gyp: 'arm', triplet: 'arm-linux-gnueabihf', majors: [20, 22], debian: 'armhf' },
});

export const ARCH_NAMES = Object.freeze(Object.keys(ARCHES));

export function releasesFor(arch) {
  return NODE_RELEASES.filter((r) => ARCHES[arch].majors.includes(r.major));
}

/** Where the bindings package looks for a prebuilt addon: lib/binding/node-v<abi>-linux-<arch>/. */
export function bindingDir(abi, nodeArch) {
  return `lib/binding/node-v${abi}-linux-${nodeArch}`;
}
