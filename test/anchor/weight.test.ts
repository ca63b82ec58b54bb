// What anchoring weighs where it is not used: the device agent's single-file bundle carries none of
// it, and the hub's bundle carries no EVM library (viem comes in dist/tally-anchor.js, loaded only
// by a hub or command that anchors). Built with the options of scripts/build.mjs, in memory.
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const EVM = /node_modules\/(viem|ox|abitype|solc|@nomicfoundation|@scure|@noble\/curves|@noble\/hashes)\//;

async function inputs(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20.19',
    format: 'esm',
    external: ['better-sqlite3'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

describe('bundle weight of anchoring', () => {
  it('the agent bundle holds no anchoring code and no EVM library', async () => {
    const files = await inputs('agent/cli.ts');
    expect(files.length).toBeGreaterThan(10);
    expect(files.filter((f) => EVM.test(f) || f.startsWith('hub/'))).toEqual([]);
  });

  it('the hub bundle holds no EVM library; the anchoring client bundle does', async () => {
    const hub = await inputs('hub/cli.ts');
    expect(hub).toContain('hub/cli/anchor.ts');
    expect(hub.filter((f) => EVM.test(f) || f === 'hub/anchor/client.ts')).toEqual([]);
    const client = await inputs('hub/anchor/client.ts');
    expect(client.some((f) => f.includes('node_modules/viem/'))).toBe(true);
  });
});
