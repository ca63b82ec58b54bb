// Hub-signed epoch records [P-8.4] for the anchoring tests: a chain of epochs with made-up roots,
// each record chained to the previous root, as hub/settlement writes them.
import {
  encodeEpochRecord,
  generateKeyPair,
  signEpoch,
  type EpochRecord,
  type KeyPair,
} from '../../../protocol/index.js';
import { randomBytes } from 'node:crypto';

export interface TestEpoch {
  record: EpochRecord;
  bytes: Uint8Array;
  signature: Uint8Array;
}

export function epochChain(count: number, hub: KeyPair = generateKeyPair(), firstEpoch = 1n): TestEpoch[] {
  const out: TestEpoch[] = [];
  let prevRoot: Uint8Array = new Uint8Array(32);
  for (let i = 0; i < count; i++) {
    const record: EpochRecord = {
      network: 'anchor-test',
      hubKey: hub.publicKey,
      epoch: firstEpoch + BigInt(i),
      closedAtMs: 1_700_000_000_000n + BigInt(i) * 60_000n,
      entryCount: 3,
      totalDeltaAmount: 1_000n + BigInt(i),
      prevRoot,
      root: new Uint8Array(randomBytes(32)),
    };
    const bytes = encodeEpochRecord(record);
    out.push({ record, bytes, signature: signEpoch(bytes, hub.secretKey) });
    prevRoot = record.root;
  }
  return out;
}

/** The same epoch re-signed by its hub with another root: what a hub rewriting history would sign. */
export function rewritten(epoch: TestEpoch, hub: KeyPair): TestEpoch {
  const record = { ...epoch.record, root: new Uint8Array(randomBytes(32)) };
  const bytes = encodeEpochRecord(record);
  return { record, bytes, signature: signEpoch(bytes, hub.secretKey) };
}
