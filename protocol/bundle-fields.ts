// Reading the untrusted JSON of a settlement bundle [P-8.5 checks 1-9]: every field is
// shape-checked before use and reported with DECODE_FIELD, never trusted and never thrown on.

import { fromHex } from './bytes.js';
import type { ReasonCode } from './errors.js';
import { MAX_LEAVES, type MerkleProof } from './merkle.js';

export type JsonObject = Record<string, unknown>;
/** Reports a failed check: its item number in [P-8.5] (or [P-8.6]), its code and what failed. */
export type Report = (check: number, code: ReasonCode, detail: string) => void;

const LOWER_HEX = /^[0-9a-f]*$/;
export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Rejects keys the format does not define: an unverified field must not ride along. */
export function onlyKeys(obj: JsonObject, allowed: readonly string[], where: string, check: number, report: Report) {
  for (const key of Object.keys(obj))
    if (!allowed.includes(key)) report(check, 'DECODE_FIELD', `${where}: unknown field ${key}`);
}

/** Lowercase hex of an exact (or any, when length is undefined) byte length; reports otherwise. */
export function parseHex(
  value: unknown,
  where: string,
  check: number,
  report: Report,
  length?: number,
): Uint8Array | undefined {
  const bytes = typeof value === 'string' && LOWER_HEX.test(value) ? fromHex(value) : undefined;
  if (bytes === undefined || (length !== undefined && bytes.length !== length)) {
    report(check, 'DECODE_FIELD', `${where} is not lowercase hex${length === undefined ? '' : ` of ${length} bytes`}`);
    return undefined;
  }
  return bytes;
}

/** `{ index, leafCount, siblings }` with u32 counts and at most 32 sibling hashes [P-8.3]. */
export function parseProof(proof: unknown, where: string, check: number, report: Report): MerkleProof | undefined {
  if (!isObject(proof)) return void report(check, 'DECODE_FIELD', `${where} is not an object`);
  onlyKeys(proof, ['index', 'leafCount', 'siblings'], where, check, report);
  const { index, leafCount, siblings } = proof;
  const isCount = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_LEAVES;
  if (!isCount(index) || !isCount(leafCount))
    return void report(check, 'DECODE_FIELD', `${where} index and leafCount are u32`);
  if (!Array.isArray(siblings) || siblings.length > 32)
    return void report(check, 'DECODE_FIELD', `${where}.siblings is not an array of at most 32 hashes`);
  const parsed = siblings.map((s: unknown, i) => parseHex(s, `${where}.siblings[${i}]`, check, report, 32));
  if (parsed.some((s) => s === undefined)) return undefined;
  return { index, leafCount, siblings: parsed as Uint8Array[] };
}
