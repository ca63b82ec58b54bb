export interface NodeRelease {
  readonly major: number;
  readonly version: string;
  readonly abi: number;
}
export interface ArchInfo {
  readonly node: string;
  readonly gyp: string;
  readonly triplet: string | undefined;
  readonly majors: readonly number[];
  readonly debian: string;
}
export type ArchName = 'x64' | 'arm64' | 'armhf';
export const NODE_RELEASES: readonly NodeRelease[];
export const RECOMMENDED_NODE: NodeRelease;
export const ARCHES: Readonly<Record<ArchName, ArchInfo>>;
export const ARCH_NAMES: readonly ArchName[];
export function releasesFor(arch: ArchName): NodeRelease[];
export function bindingDir(abi: number, nodeArch: string): string;
