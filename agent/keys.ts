// The device key file: the 32-byte Ed25519 seed as hex, mode 0600. Created atomically (written to
// a temporary file, fsynced, then hard-linked into place, which fails rather than overwrite an
// existing key), because losing or replacing a device key orphans its channel.
import {
  chmodSync,
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { fromHex, generateKeyPair, keyPairFromSeed, toHex, type KeyPair } from '../protocol/index.js';

export const KEY_FILE = 'device.key';
export const OUTBOX_FILE = 'outbox.db';

export class KeyFileError extends Error {
  constructor(
    readonly code: 'KEY_MISSING' | 'KEY_INVALID',
    message: string,
  ) {
    super(message);
    this.name = 'KeyFileError';
  }
}

/** Creates the data directory 0700, or makes an existing one 0700 (`mkdir -p` leaves 0755): it
 *  holds the device key and the outbox. */
export function privateDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
}

/** Creates the data directory and the key if missing; returns the key and whether it is new. */
export function ensureDeviceKey(dataDir: string): { keyPair: KeyPair; created: boolean } {
  privateDataDir(dataDir);
  const path = join(dataDir, KEY_FILE);
  try {
    return { keyPair: loadDeviceKey(dataDir).keyPair, created: false };
  } catch (err) {
    if (!(err instanceof KeyFileError) || err.code !== 'KEY_MISSING') throw err;
  }
  const keyPair = generateKeyPair();
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${toHex(keyPair.secretKey)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } finally {
    unlinkSync(tmp);
  }
  syncDir(dataDir);
  return { keyPair: loadDeviceKey(dataDir).keyPair, created: true };
}

/** Reads the key; `looseMode` is true when group or others may read the file. */
export function loadDeviceKey(dataDir: string): { keyPair: KeyPair; looseMode: boolean } {
  const path = join(dataDir, KEY_FILE);
  let text: string;
  let mode: number;
  try {
    text = readFileSync(path, 'utf8');
    mode = statSync(path).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new KeyFileError('KEY_MISSING', `no device key at ${path}: run \`tally-agent init\` first`);
    }
    throw new KeyFileError('KEY_INVALID', `cannot read ${path}: ${(err as Error).message}`);
  }
  const seed = fromHex(text.trim());
  if (seed === undefined || seed.length !== 32) {
    throw new KeyFileError('KEY_INVALID', `${path} must hold 64 hex characters (a 32-byte Ed25519 seed)`);
  }
  return { keyPair: keyPairFromSeed(seed), looseMode: (mode & 0o077) !== 0 };
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the key file itself is already synced.
  }
}
