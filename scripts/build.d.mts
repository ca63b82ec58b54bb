export const CLI_ENTRIES: { name: string; src: string }[];
export function buildClis(outDir: string): Promise<void>;
