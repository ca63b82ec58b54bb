// The anchoring account's secp256k1 private key, read from a file (never from the command line,
// where any user sees it in the process list): 64 hex digits, optionally 0x-prefixed, one line.
// Like an SSH key, a file that group or others can read is refused rather than used.

import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { AnchorError } from './codes.js';
import type { Hex } from './proof.js';

const KEY = /^(?:0x)?([0-9a-fA-F]{64})$/;
/** Order of secp256k1's group: a private key is in 1..n-1. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Reads and checks a key file; throws AnchorError (ANCHOR_KEY_FILE, _MODE, _FORMAT). */
export function readAnchorKey(path: string): Hex {
  let text: string;
  try {
    // Windows has no POSIX modes to check.
    if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0)
      throw new AnchorError('ANCHOR_KEY_MODE', path);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof AnchorError) throw err;
    throw new AnchorError('ANCHOR_KEY_FILE', `${path}: ${(err as Error).message}`);
  }
  const match = KEY.exec(text.trim());
  const key = match ? BigInt(`0x${match[1]}`) : 0n;
  if (!match || key === 0n || key >= SECP256K1_N) throw new AnchorError('ANCHOR_KEY_FORMAT', path);
  return `0x${match[1]!.toLowerCase()}`;
}

/** Writes a new key file with mode 0600; refuses to overwrite one (ANCHOR_KEY_FILE). */
export function writeAnchorKey(path: string, key: Hex): void {
  try {
    writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw new AnchorError('ANCHOR_KEY_FILE', `${path}: ${(err as Error).message}`);
  }
  chmodSync(path, 0o600); // the umask may have widened the mode given to writeFileSync
}
