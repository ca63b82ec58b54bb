// `tally-hub verify BUNDLE --anchor-rpc URL`: after the offline checks of [P-8.5] hold, confirms
// against a chain the verifier chose that each bundle's epoch root is anchored where its `anchor`
// says [P-8.8] (hub/anchor/confirm.ts: the contract's code, the block hash, the log with this root
// in the stated transaction). A bundle with no anchor fails: the question asked was "is it on chain".

import { fromHex } from '../../protocol/index.js';
import { ANCHOR_VERDICTS, type AnchorVerdictCode } from '../anchor/codes.js';
import { loadAnchorClient } from '../anchor/index.js';

export interface AnchorCheck {
  file: string;
  confirmed: boolean;
  code?: AnchorVerdictCode;
  detail: string;
  blockNumber?: string;
  txHash?: string;
  confirmations?: string;
}

export async function checkAnchors(
  files: string[],
  docs: unknown[],
  rpcUrl: string,
  minConfirmations: bigint,
): Promise<AnchorCheck[]> {
  const { confirmEpochRecord } = await loadAnchorClient();
  const out: AnchorCheck[] = [];
  for (const [i, doc] of docs.entries()) {
    const file = files[i]!;
    const bundle = doc as { epoch?: { record?: unknown }; anchor?: unknown };
    const record = typeof bundle.epoch?.record === 'string' ? fromHex(bundle.epoch.record) : undefined;
    if (bundle.anchor === undefined || record === undefined) {
      out.push({ file, confirmed: false, code: 'ANCHOR_NOT_FOUND', detail: 'the bundle carries no anchor' });
      continue;
    }
    const v = await confirmEpochRecord(rpcUrl, record, bundle.anchor, { minConfirmations });
    out.push(
      v.ok
        ? {
            file,
            confirmed: true,
            detail: `root anchored on chain ${v.proof.chainId} in block ${v.proof.blockNumber}, transaction ${v.proof.txHash}`,
            blockNumber: v.proof.blockNumber.toString(),
            txHash: v.proof.txHash,
            confirmations: v.confirmations.toString(),
          }
        : { file, confirmed: false, code: v.code, detail: v.detail },
    );
  }
  return out;
}

export function anchorLines(checks: AnchorCheck[]): string[] {
  return checks.map((c) =>
    c.confirmed
      ? `anchor confirmed: ${c.detail}, ${c.confirmations} confirmation(s)${checks.length > 1 ? ` [${c.file}]` : ''}`
      : `INVALID: anchor ${c.code} (${ANCHOR_VERDICTS[c.code!]}): ${c.detail}${checks.length > 1 ? ` [${c.file}]` : ''}`,
  );
}
