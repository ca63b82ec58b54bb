// The release archive and its install.sh on this machine's Node.js: the archive is assembled the
// way `npm run release:agent` assembles it, with the SQLite binding npm already built here instead
// of a cross-compiled one (the ARM targets are checked by `npm run check:arm`). Then install.sh
// installs it into a scratch folder, and the installed command runs with the release folder gone.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../scripts/release/assemble.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const major = Number(process.versions.node.split('.')[0]);
const abi = Number(process.versions.modules);

describe('release archive and install.sh', () => {
  let dir: string;
  let unpacked: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tally-release-'));
    const archive = assemble({
      root: ROOT,
      outDir: join(dir, 'out'),
      version: '0.0.0-test',
      commit: 'test',
      mtime: 0,
      arch: 'x64',
      bindings: [
        {
          release: { major, abi, version: process.versions.node },
          file: join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'),
        },
      ],
    });
    execFileSync('tar', ['-xzf', archive, '-C', dir]);
    unpacked = join(dir, 'tally-agent-0.0.0-test-linux-x64');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const install = (...args: string[]) =>
    spawnSync('sh', [join(unpacked, 'install.sh'), ...args], { encoding: 'utf8', env: { ...process.env, NODE: '' } });

  it('holds the agent alone: bundle, runtime modules, binding, unit, installer', () => {
    const manifest = JSON.parse(readFileSync(join(unpacked, 'RELEASE.json'), 'utf8'));
    expect(manifest).toMatchObject({ name: 'tally-agent', arch: 'x64', nodeArch: 'x64', node: [{ abi }] });
    expect(
      existsSync(join(unpacked, `node_modules/better-sqlite3/lib/binding/node-v${abi}-linux-x64/better_sqlite3.node`)),
    ).toBe(true);
    const modules = execFileSync('ls', [join(unpacked, 'node_modules')], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    expect(modules).toEqual(['better-sqlite3', 'bindings', 'file-uri-to-path']);
    // No C sources, build tools or other packages ride along.
    expect(existsSync(join(unpacked, 'node_modules/better-sqlite3/deps'))).toBe(false);
    expect(existsSync(join(unpacked, 'node_modules/better-sqlite3/src'))).toBe(false);
    // SHA256SUMS lists every file and each sum is right.
    const check = spawnSync('sha256sum', ['--check', '--quiet', 'SHA256SUMS'], { cwd: unpacked, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });

  it('teaches with --help and rejects bad usage with exit 2', () => {
    const help = install('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--hub-key HEX');
    expect(install('--hub-key', '12', '--broker', 'mqtt://h:1883').status).toBe(2);
    expect(install('--broker', 'mqtt://h:1883').status).toBe(2); // --hub-key missing
    expect(install('--frobnicate').status).toBe(2);
  });

  it('refuses a Node.js whose ABI it carries no binding for, naming what it carries', () => {
    // A node that reports another ABI: the install must stop before copying anything.
    const fake = join(dir, 'other-node');
    execFileSync('sh', [
      '-c',
      `printf '#!/bin/sh\\ncase "$2" in *modules*) echo 1;; *arch*) echo x64;; *) echo 99.0.0;; esac\\n' > ${fake} && chmod +x ${fake}`,
    ]);
    const r = install('--no-service', '--node', fake, '--prefix', join(dir, 'nope'), '--data', join(dir, 'nope-data'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`node-v${abi}-linux-x64`);
    expect(existsSync(join(dir, 'nope'))).toBe(false);
  });

  it('installs without the service, then runs from the install directory alone', () => {
    const prefix = join(dir, 'opt');
    const data = join(dir, 'data');
    const r = install(
      '--no-service',
      '--no-apt',
      '--node',
      process.execPath,
      '--prefix',
      prefix,
      '--data',
      data,
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(out.abi).toBe(abi);
    rmSync(unpacked, { recursive: true, force: true });
    const status = spawnSync(join(prefix, 'bin', 'tally-agent'), ['status', '--data', data, '--json'], {
      encoding: 'utf8',
    });
    expect(status.status, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).deviceKey).toBe(out.publicKey);
  });
});
