// The optional `anchor` of a version-3 settlement bundle [P-8.5, P-8.8]: where the epoch's root was
// published on an EVM chain. Numbers are decimal strings and EVM values 0x-prefixed lowercase hex
// (what block explorers take). It is not covered by the hub's signature (it exists only after the
// signed record was sent to a chain); it needs none, because a verifier that checks it asks the
// chain (hub/anchor/confirm.ts). Here only its shape is checked, strictly, like every bundle field.

import type { JsonObject, Report } from './bundle-fields.js';
import { isObject, onlyKeys } from './bundle-fields.js';

export interface BundleAnchorJson {
  chainId: string;
  contract: string;
  anchorer: string;
  txHash: string;
  blockNumber: string;
  blockHash: string;
}

const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;
const ADDRESS = /^0x[0-9a-f]{40}$/;
const HASH = /^0x[0-9a-f]{64}$/;
const U64_MAX = (1n << 64n) - 1n;
export const ANCHOR_FIELDS: Readonly<Record<keyof BundleAnchorJson, RegExp>> = Object.freeze({
  chainId: DECIMAL,
  contract: ADDRESS,
  anchorer: ADDRESS,
  txHash: HASH,
  blockNumber: DECIMAL,
  blockHash: HASH,
});

/** Check 3 for `anchor`: exactly these six fields, each in its grammar; u64 numbers, chain id >= 1. */
export function parseBundleAnchor(value: unknown, report: Report): BundleAnchorJson | undefined {
  if (!isObject(value)) return void report(3, 'DECODE_FIELD', 'anchor is not an object');
  onlyKeys(value, Object.keys(ANCHOR_FIELDS), 'anchor', 3, report);
  const obj = value as JsonObject;
  let good = true;
  for (const [key, pattern] of Object.entries(ANCHOR_FIELDS)) {
    const v = obj[key];
    const fits = typeof v === 'string' && pattern.test(v) && (pattern !== DECIMAL || BigInt(v) <= U64_MAX);
    if (!fits || (key === 'chainId' && v === '0')) {
      report(3, 'DECODE_FIELD', `anchor.${key} is not ${pattern === DECIMAL ? 'a decimal u64' : 'lowercase 0x hex'}`);
      good = false;
    }
  }
  return good && Object.keys(obj).length === 6 ? (obj as unknown as BundleAnchorJson) : undefined;
}
