// What the ingest steps share: a rejection, the one shape every refusal takes before it is counted
// and stored, and the pass-or-stop result of a step.

import type { ReasonCode } from '../../protocol/index.js';
import type { HubReasonCode, RejectionStage } from '../base/reasons.js';
import type { LiveChannel } from '../model/registry.js';

export interface Rejection {
  stage: RejectionStage;
  reason: ReasonCode | HubReasonCode;
  deviceHex: string | null;
  channel: LiveChannel | null;
  /** Last seq of the refused segment, when it decoded. */
  seq: bigint | null;
  vouchers: number;
  detail?: string;
}

/** A step either passes a value on or stops the message with a rejection. */
export type Step<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

export const pass = <T>(value: T): Step<T> => ({ ok: true, value });
export const stop = (rejection: Rejection): Step<never> => ({ ok: false, rejection });
