// --store: SQLite by default, a postgres:// URL otherwise, from a flag, TALLY_HUB_STORE or the
// config file, with the password from a file; a password never appears in a problem or a log.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/config-error.js';
import { resolveConfig } from '../../hub/base/config.js';
import { redactStoreUrl, storeUrlHasPassword } from '../../hub/base/store-config.js';
import { startSettings } from '../../hub/cli/start-config.js';

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
};

describe('the store setting', () => {
  it('is the data directory SQLite file unless a postgres:// URL is given', () => {
    expect(resolveConfig({}).store).toEqual({ kind: 'sqlite' });
    expect(resolveConfig({ store: 'sqlite' }).store).toEqual({ kind: 'sqlite' });
    expect(resolveConfig({ store: 'postgres://tally@db.example:5432/ledger' }).store).toEqual({
      kind: 'postgres',
      url: 'postgres://tally@db.example:5432/ledger',
      password: undefined,
      display: 'postgres://tally@db.example:5432/ledger',
    });
  });

  it('comes from TALLY_HUB_STORE or the config file, with the password from a file', () => {
    const s = startSettings({
      flags: { config: '/etc/hub.json' },
      env: { TALLY_HUB_STORE: 'postgresql://tally@10.0.0.5/ledger' },
      readFile: (p) =>
        p === '/etc/hub.json' ? JSON.stringify({ storePasswordFile: '/etc/pg-pass' }) : 's3cret-pass\n',
    });
    expect(s.input.store).toBe('postgresql://tally@10.0.0.5/ledger');
    expect(s.input.storePassword).toBe('s3cret-pass');
    expect(s.from.store).toBe('TALLY_HUB_STORE');
  });

  it('hides a password of the URL wherever the URL is shown', () => {
    const url = 'postgres://tally:hunter2-secret@db:5432/ledger?sslmode=require&password=other-secret';
    expect(storeUrlHasPassword(url)).toBe(true);
    expect(storeUrlHasPassword('postgres://tally@db/ledger')).toBe(false);
    const shown = redactStoreUrl(url);
    expect(shown).not.toContain('hunter2');
    expect(shown).not.toContain('other-secret');
    expect(shown).toContain('tally:***@db:5432/ledger');
    const store = resolveConfig({ store: url }).store;
    expect(store.kind === 'postgres' && store.display).toBe(shown);
    // A malformed value is not echoed at all: it may be a password typed in the wrong place.
    const bad = problemsOf(() => resolveConfig({ store: 'postgres://tally:hunter2@/' }));
    const worse = problemsOf(() => resolveConfig({ store: 'tally:hunter2 db' }));
    expect([...bad, ...worse].join('\n')).not.toContain('hunter2');
    expect(bad).toEqual([expect.stringMatching(/^--store must be sqlite or postgres:\/\/USER@HOST:PORT\/DATABASE/)]);
  });

  it('refuses other schemes, a URL with no database, and a password file without PostgreSQL', () => {
    expect(problemsOf(() => resolveConfig({ store: 'mysql://db/ledger' }))).toEqual([
      '--store must be sqlite or postgres://USER@HOST:PORT/DATABASE: a mysql: URL (not shown)',
    ]);
    expect(problemsOf(() => resolveConfig({ store: 'postgres://tally@db:5432' }))).toEqual([
      '--store names no database (postgres://USER@HOST:PORT/DATABASE): postgres://tally@db:5432',
    ]);
    expect(problemsOf(() => resolveConfig({ storePassword: 'x' }))).toEqual([
      '--store-password-file needs --store postgres://...',
    ]);
  });
});
