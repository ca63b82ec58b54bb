import type { NodeRelease } from './targets.mjs';
export function assemble(opts: {
  root: string;
  outDir: string;
  version: string;
  commit: string;
  mtime: number;
  arch: 'x64' | 'arm64' | 'armhf';
  bindings: { release: NodeRelease; file: string }[];
}): string;
