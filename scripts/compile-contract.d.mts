export const SOURCE_PATH: string;
export const ARTIFACT_PATH: string;
export interface Compiled {
  compiler: string;
  input: unknown;
  output: unknown;
  abi: unknown[];
  bytecode: string;
  runtimeCodeHash: string;
}
export function compileTallyAnchor(): Promise<Compiled>;
export function artifactSource(compiled: Compiled): Promise<string>;
export function buildContract(options?: { write?: boolean }): Promise<{ stale: boolean; written?: boolean }>;
