// A Debian 13 (trixie) file tree for one foreign architecture, made of Debian's own packages:
// apt-get resolves and downloads them with a private configuration (no change to this machine's
// apt sources or dpkg architectures) and dpkg-deb unpacks them. qemu-user runs the target's
// binaries against it with -L, as the board would run them against its root file system.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SUITE = 'trixie';
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/**
 * Returns a directory holding `packages` and their dependencies for Debian architecture `arch`
 * (arm64, armhf), built once under `cacheDir`. `packages` are resolved like `apt-get install`.
 */
export function debianSysroot(cacheDir: string, arch: string, packages: readonly string[]): string {
  const name = `debian-${SUITE}-${arch}-${packages.join('+')}`;
  const root = join(cacheDir, name);
  if (existsSync(join(root, '.complete'))) return root;

  const apt = join(cacheDir, `${name}.apt`);
  rmSync(apt, { recursive: true, force: true });
  for (const d of ['etc/apt/apt.conf.d', 'etc/apt/preferences.d', 'etc/apt/sources.list.d', 'etc/apt/trusted.gpg.d']) {
    mkdirSync(join(apt, d), { recursive: true });
  }
  for (const d of ['var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'var/lib/dpkg']) {
    mkdirSync(join(apt, d), { recursive: true });
  }
  writeFileSync(join(apt, 'var/lib/dpkg/status'), ''); // nothing installed: every dependency is fetched
  writeFileSync(
    join(apt, 'etc/apt/sources.list'),
    `deb [signed-by=${KEYRING}] http://deb.debian.org/debian ${SUITE} main\n`,
  );
  const conf = join(apt, 'apt.conf');
  writeFileSync(
    conf,
    [
      `Dir "${apt}/";`,
      `Dir::State "${apt}/var/lib/apt/";`,
      `Dir::State::status "${apt}/var/lib/dpkg/status";`,
      `Dir::Cache "${apt}/var/cache/apt/";`,
      `Dir::Etc "${apt}/etc/apt/";`,
      `APT::Architecture "${arch}";`,
      `APT::Architectures { "${arch}"; };`,
      'APT::Install-Recommends "false";',
      'Acquire::Languages "none";',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, APT_CONFIG: conf, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['-q', 'update'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('apt-get', ['-q', '-y', '--download-only', 'install', ...packages], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  const tmp = `${root}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const debs = join(apt, 'var/cache/apt/archives');
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb'))) {
    execFileSync('dpkg-deb', ['-x', join(debs, deb), tmp]);
  }
  // Debian 13 has a merged /usr: /lib is a link made by base-files, not part of libc6.
  for (const dir of ['lib', 'bin', 'sbin']) if (!existsSync(join(tmp, dir))) symlinkSync(`usr/${dir}`, join(tmp, dir));
  writeFileSync(join(tmp, '.complete'), `${packages.join(' ')}\n`);
  rmSync(root, { recursive: true, force: true });
  renameSync(tmp, root);
  rmSync(apt, { recursive: true, force: true });
  return root;
}
