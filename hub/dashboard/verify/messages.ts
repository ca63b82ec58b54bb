// What the verify page and its worker say to each other. BigInts cross postMessage as they are
// (structured clone), so the verdict arrives exactly as verifyBundle returned it.
import type { BundleVerdict } from '../../../protocol/index.js';

export interface VerifyRequest {
  text: string;
  /** 64 hex characters, or empty: also require this hub key. */
  hubKey: string;
}

export type VerifyResponse = { verdict: BundleVerdict } | { unreadable: string };
