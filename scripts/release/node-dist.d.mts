export function nodeDist(cacheDir: string, nodeArch: string, version: string): string;
