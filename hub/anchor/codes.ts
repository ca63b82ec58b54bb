// One table of anchoring codes. Verdict codes say why an anchor does not confirm (confirmAnchor and
// locateAnchor return them); error codes say why an operation could not be done (AnchorError).
// docs/settlement.md lists this table; test/anchor/docs.test.ts fails if the two drift apart.

export const ANCHOR_VERDICTS = {
  ANCHOR_NOT_FOUND: 'no anchor of this epoch of this hub key by this account in the stated block (or at all)',
  ANCHOR_ROOT_MISMATCH: 'the epoch is anchored, with another root',
  ANCHOR_TX_MISMATCH: 'the epoch is anchored in the stated block, by another transaction than the stated one',
  ANCHOR_BLOCK_REPLACED: "the stated block hash is not the chain's block at that number (a reorganisation)",
  ANCHOR_UNCONFIRMED: 'the anchoring block has fewer confirmations than required',
  ANCHOR_WRONG_CHAIN: 'the RPC endpoint serves another chain id than the proof names',
  ANCHOR_WRONG_CODE: 'the code at the contract address is not TallyAnchor (or there is none)',
  ANCHOR_WRONG_NAMESPACE: 'the contract or the anchoring account is not the one the verifier expects',
  ANCHOR_PROOF_INVALID: 'the anchor proof or the epoch record is malformed',
  ANCHOR_RPC_FAILED: 'the RPC endpoint did not answer; nothing was confirmed or refuted',
} as const;

export const ANCHOR_ERRORS = {
  ANCHOR_KEY_FILE: 'the anchor key file cannot be read, or already exists when creating one',
  ANCHOR_KEY_MODE: 'the anchor key file is readable by group or others (chmod 600 it)',
  ANCHOR_KEY_FORMAT: 'the anchor key file is not one secp256k1 private key as 64 hex digits',
  ANCHOR_CONFLICT: 'this account already anchored another root for an epoch being published',
  ANCHOR_GAP: "the epochs do not continue the account's last anchored epoch for this hub key",
  ANCHOR_GAVE_UP: 'retries exhausted or aborted before the transaction was mined',
  ANCHOR_DEPLOY_FAILED: 'the deployment transaction failed or deployed other code',
} as const;

export type AnchorVerdictCode = keyof typeof ANCHOR_VERDICTS;
export type AnchorErrorCode = keyof typeof ANCHOR_ERRORS;

export class AnchorError extends Error {
  constructor(
    readonly code: AnchorErrorCode,
    readonly detail?: string,
  ) {
    super(detail === undefined ? ANCHOR_ERRORS[code] : `${ANCHOR_ERRORS[code]}: ${detail}`);
    this.name = 'AnchorError';
  }
}

/**
 * True for an AnchorError, also one thrown by the separately bundled client (dist/tally-anchor.js
 * has its own copy of this class, so instanceof alone does not see it).
 */
export function isAnchorError(err: unknown): err is AnchorError {
  return (
    err instanceof AnchorError ||
    (err instanceof Error && err.name === 'AnchorError' && typeof (err as AnchorError).code === 'string')
  );
}
