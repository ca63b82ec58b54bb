// The anchor proof: where an epoch's root was anchored, as the hub stores it with the epoch and a
// bundle carries it. JSON with decimal strings for numbers and 0x-prefixed lowercase hex for EVM
// values (what block explorers take), parsed strictly: it is untrusted input like the rest of a
// bundle, so an unknown or malformed field is refused, never ignored.

import { fail, ok, type Result } from '../../protocol/index.js';

export type Hex = `0x${string}`;

export interface AnchorProof {
  chainId: bigint;
  /** TallyAnchor contract address. */
  contract: Hex;
  /** The account that sent the anchoring transaction: with the hub key, the anchor's namespace. */
  anchorer: Hex;
  txHash: Hex;
  blockNumber: bigint;
  blockHash: Hex;
}

export interface AnchorProofJson {
  chainId: string;
  contract: string;
  anchorer: string;
  txHash: string;
  blockNumber: string;
  blockHash: string;
}

const KEYS = ['chainId', 'contract', 'anchorer', 'txHash', 'blockNumber', 'blockHash'] as const;
const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;
const hexOf = (bytes: number) => new RegExp(`^0x[0-9a-f]{${bytes * 2}}$`);
const ADDRESS = hexOf(20);
const HASH = hexOf(32);
const U64_MAX = (1n << 64n) - 1n;

export function proofToJson(p: AnchorProof): AnchorProofJson {
  return {
    chainId: p.chainId.toString(),
    contract: p.contract.toLowerCase(),
    anchorer: p.anchorer.toLowerCase(),
    txHash: p.txHash.toLowerCase(),
    blockNumber: p.blockNumber.toString(),
    blockHash: p.blockHash.toLowerCase(),
  };
}

/** Parses an untrusted anchor proof (DECODE_FIELD with the field on any problem). Never throws. */
export function parseProof(value: unknown): Result<AnchorProof> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return fail('DECODE_FIELD', 'anchor proof is not an object');
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj))
    if (!(KEYS as readonly string[]).includes(key)) return fail('DECODE_FIELD', `anchor proof: unknown field ${key}`);
  const field = (key: (typeof KEYS)[number], pattern: RegExp): string | undefined => {
    const v = obj[key];
    return typeof v === 'string' && pattern.test(v) ? v : undefined;
  };
  const chainId = field('chainId', DECIMAL);
  const blockNumber = field('blockNumber', DECIMAL);
  const contract = field('contract', ADDRESS);
  const anchorer = field('anchorer', ADDRESS);
  const txHash = field('txHash', HASH);
  const blockHash = field('blockHash', HASH);
  const problems: string[] = [];
  if (chainId === undefined || BigInt(chainId) < 1n || BigInt(chainId) > U64_MAX)
    problems.push('chainId is a decimal in 1..2^64-1');
  if (blockNumber === undefined || BigInt(blockNumber) > U64_MAX) problems.push('blockNumber is a decimal u64');
  if (contract === undefined) problems.push('contract is 0x and 40 lowercase hex digits');
  if (anchorer === undefined) problems.push('anchorer is 0x and 40 lowercase hex digits');
  if (txHash === undefined) problems.push('txHash is 0x and 64 lowercase hex digits');
  if (blockHash === undefined) problems.push('blockHash is 0x and 64 lowercase hex digits');
  if (problems.length > 0) return fail('DECODE_FIELD', `anchor proof: ${problems.join('; ')}`);
  return ok({
    chainId: BigInt(chainId!),
    contract: contract as Hex,
    anchorer: anchorer as Hex,
    txHash: txHash as Hex,
    blockNumber: BigInt(blockNumber!),
    blockHash: blockHash as Hex,
  });
}
