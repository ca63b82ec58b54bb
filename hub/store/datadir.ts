// The hub's data directory: everything a hub needs to restart where it stopped.
//   hub.db         SQLite database (WAL), mode 0600 (its -wal and -shm files too); the directory 0700
//   hub-key.json   hub Ed25519 seed and public key, mode 0600
//   admin-token    bearer token for provisioning over HTTP, mode 0600
//   broker-secret  password of a hub-role MQTT client on the embedded broker, mode 0600
//   hub.json       written while a hub runs: pid and addresses, so the CLI can reach it
// The network name and hub public key also live in the database (meta), so a database copied
// away from its key file is still self-describing.

import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateKeyPair, keyPairFromSeed, fromHex, toHex, type KeyPair } from '../../protocol/index.js';
import { openSqliteStore, openSqliteSync } from './sqlite-store.js';
import type { HubStore } from './types.js';

export const FILES = {
  db: 'hub.db',
  key: 'hub-key.json',
  adminToken: 'admin-token',
  brokerSecret: 'broker-secret',
  running: 'hub.json',
} as const;

export interface HubIdentity {
  readonly keyPair: KeyPair;
  readonly publicKeyHex: string;
  readonly network: string;
  readonly adminToken: string;
  readonly brokerSecret: string;
}

export interface RunningHubInfo {
  pid: number;
  http: string;
  mqtt: string | null;
  startedAtMs: number;
  /** SHA-256 fingerprint of the HTTPS certificate, which management commands pin. */
  httpCertSha256?: string;
}

/**
 * Creates the database file 0600 before SQLite does (SQLite would make it 0644 less the umask,
 * readable by every local user) and tightens one that exists; SQLite gives its -wal and -shm
 * files the mode of the database.
 */
export function privateDatabaseFile(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
}

function writeSecret(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600); // the umask may have widened the mode given to writeFileSync
}

/** The default network name: derived from the hub key so two hubs never share one [P-3.1]. */
export function defaultNetworkName(hubPublicKey: Uint8Array): string {
  return `hub-${toHex(hubPublicKey).slice(0, 16)}`;
}

export function isInitialised(dir: string): boolean {
  return existsSync(join(dir, FILES.key)) && existsSync(join(dir, FILES.db));
}

/**
 * Creates the data directory if needed and returns its identity. Idempotent: an existing directory
 * keeps its key, token and network (a different `network` for an existing one is an error).
 */
export function initDataDir(
  dir: string,
  options: { network?: string; synchronous?: 'FULL' | 'NORMAL' } = {},
): {
  identity: HubIdentity;
  created: boolean;
} {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // An existing directory keeps the mode it was made with (0755 by mkdir -p): forced, since it
  // holds the hub key, the admin token and every voucher.
  chmodSync(dir, 0o700);
  let created = false;
  const keyPath = join(dir, FILES.key);
  if (!existsSync(keyPath)) {
    const kp = generateKeyPair();
    writeSecret(
      keyPath,
      JSON.stringify({ version: 1, publicKey: toHex(kp.publicKey), secretKey: toHex(kp.secretKey) }) + '\n',
    );
    created = true;
  }
  for (const file of [FILES.adminToken, FILES.brokerSecret]) {
    const path = join(dir, file);
    if (!existsSync(path)) writeSecret(path, randomBytes(32).toString('base64url') + '\n');
  }
  const keyPair = readKey(dir);
  privateDatabaseFile(join(dir, FILES.db));
  const store = openSqliteSync(join(dir, FILES.db), options.synchronous ? { synchronous: options.synchronous } : {});
  try {
    const storedKey = store.getMeta('hubPublicKey');
    if (storedKey === undefined) store.setMeta('hubPublicKey', toHex(keyPair.publicKey));
    else if (storedKey !== toHex(keyPair.publicKey)) {
      throw new Error(`${FILES.key} does not match the database's hub key; refusing to start`);
    }
    const storedNetwork = store.getMeta('network');
    if (storedNetwork === undefined) store.setMeta('network', options.network ?? defaultNetworkName(keyPair.publicKey));
    else if (options.network !== undefined && options.network !== storedNetwork) {
      throw new Error(`data dir already belongs to network ${storedNetwork}`);
    }
  } finally {
    store.close();
  }
  return { identity: loadIdentity(dir), created };
}

function readKey(dir: string): KeyPair {
  const parsed = JSON.parse(readFileSync(join(dir, FILES.key), 'utf8')) as { secretKey?: string; publicKey?: string };
  const seed = typeof parsed.secretKey === 'string' ? fromHex(parsed.secretKey) : undefined;
  if (!seed || seed.length !== 32) throw new Error(`${FILES.key}: secretKey is not 32 bytes of hex`);
  const kp = keyPairFromSeed(seed);
  if (parsed.publicKey !== toHex(kp.publicKey)) throw new Error(`${FILES.key}: publicKey does not match secretKey`);
  return kp;
}

/** Reads an initialised directory (throws if it is not). Opens the database only briefly. */
export function loadIdentity(dir: string): HubIdentity {
  if (!isInitialised(dir)) throw new Error(`not a tally-hub data dir (run tally-hub init): ${dir}`);
  const keyPair = readKey(dir);
  const store = openSqliteSync(join(dir, FILES.db));
  let network: string | undefined;
  try {
    network = store.getMeta('network');
  } finally {
    store.close();
  }
  if (!network) throw new Error('database has no network name');
  return {
    keyPair,
    publicKeyHex: toHex(keyPair.publicKey),
    network,
    adminToken: readFileSync(join(dir, FILES.adminToken), 'utf8').trim(),
    brokerSecret: readFileSync(join(dir, FILES.brokerSecret), 'utf8').trim(),
  };
}

export function openStore(dir: string, synchronous: 'FULL' | 'NORMAL' = 'FULL'): HubStore {
  privateDatabaseFile(join(dir, FILES.db));
  return openSqliteStore(join(dir, FILES.db), { synchronous });
}

export function writeRunningInfo(dir: string, info: RunningHubInfo): void {
  writeFileSync(join(dir, FILES.running), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
}

export function clearRunningInfo(dir: string, pid: number): void {
  const info = readRunningInfo(dir);
  if (info && info.pid === pid) rmSync(join(dir, FILES.running), { force: true });
}

export function readRunningInfo(dir: string): RunningHubInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(join(dir, FILES.running), 'utf8')) as RunningHubInfo;
    return typeof info.http === 'string' && typeof info.pid === 'number' ? info : undefined;
  } catch {
    return undefined;
  }
}
