// Where the hub keeps its ledger (--store): the SQLite file in the data directory (the default,
// nothing to install) or a PostgreSQL database (docs/scale-out.md). A PostgreSQL URL may carry a
// password; it is kept out of every message and log line (redactStoreUrl), and can come from
// --store-password-file instead, so it is not on the command line for `ps` to show.

export type StoreConfig =
  | { readonly kind: 'sqlite' }
  | {
      readonly kind: 'postgres';
      /** The URL as given (it may hold a password). */
      readonly url: string;
      /** From --store-password-file; wins over a password in the URL. */
      readonly password: string | undefined;
      /** The URL without its password, for logs and messages. */
      readonly display: string;
    };

const NOT_SHOWN = '(not a valid URL; not shown, as it may hold a password)';

/** The URL with its password replaced by ***; an unparsable value is not shown at all. */
export function redactStoreUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return NOT_SHOWN;
  }
  // Anything but a PostgreSQL URL may be a password typed in the wrong place: its scheme only.
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return `a ${url.protocol} URL (not shown)`;
  if (url.password !== '') {
    url.password = '***';
    // A URL with no host keeps its password (the URL standard allows none there): not shown.
    if (url.password !== '***') return NOT_SHOWN;
  }
  // Query parameters may carry one too (?password=...).
  for (const key of [...url.searchParams.keys()]) if (/pass|secret|key/i.test(key)) url.searchParams.set(key, '***');
  return url.toString();
}

/** True when a store URL carries a password (in the user part or a query parameter). */
export function storeUrlHasPassword(text: string): boolean {
  return redactStoreUrl(text) !== text;
}

/** Reads --store: absent or "sqlite" is the data directory's SQLite file. */
export function resolveStoreConfig(
  store: string | undefined,
  password: string | undefined,
  problems: { add(problem: string): void },
): StoreConfig {
  if (store === undefined || store === '' || store === 'sqlite') {
    if (password !== undefined) problems.add('--store-password-file needs --store postgres://...');
    return { kind: 'sqlite' };
  }
  const display = redactStoreUrl(store);
  let url: URL | undefined;
  try {
    url = new URL(store);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || url.hostname === '') {
    problems.add(`--store must be sqlite or postgres://USER@HOST:PORT/DATABASE: ${display}`);
  } else if (url.pathname.length < 2) {
    problems.add(`--store names no database (postgres://USER@HOST:PORT/DATABASE): ${display}`);
  }
  return Object.freeze({ kind: 'postgres', url: store, password, display });
}
