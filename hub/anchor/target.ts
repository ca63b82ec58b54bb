// What an anchor commits to: root R of epoch E of the hub whose Ed25519 key is H. Taken from the
// hub-signed epoch record [P-8.4], so the anchor and the bundle can never name different epochs.

import { decodeEpochRecord, fail, ok, type Result } from '../../protocol/index.js';

export interface AnchorTarget {
  /** The hub's Ed25519 public key (32 bytes): the anchor's namespace on chain. */
  hubKey: Uint8Array;
  epoch: bigint;
  /** The epoch's Merkle root (32 bytes) [P-8.3]. */
  root: Uint8Array;
}

/** The target of an epoch record's exact bytes, as stored by the hub and carried in a bundle. */
export function targetOfRecord(recordBytes: Uint8Array): Result<AnchorTarget> {
  const record = decodeEpochRecord(recordBytes);
  if (!record.ok) return record;
  const { hubKey, epoch, root } = record.value;
  // The contract refuses epoch 0 and keeps epochs in uint64, as the record does.
  if (epoch < 1n) return fail('DECODE_FIELD', 'epoch 0 cannot be anchored');
  return ok({ hubKey, epoch, root });
}

/** Checks that targets form one batch: one hub key, consecutive epochs from >= 1. Throws TypeError. */
export function assertBatch(targets: readonly AnchorTarget[]): void {
  if (targets.length === 0) throw new TypeError('an anchor batch needs at least one epoch');
  const first = targets[0]!;
  targets.forEach((t, i) => {
    if (t.hubKey.length !== 32 || t.root.length !== 32) throw new TypeError('hub key and root are 32 bytes');
    if (t.epoch !== first.epoch + BigInt(i)) throw new TypeError('anchor batch epochs must be consecutive');
    if (Buffer.compare(t.hubKey, first.hubKey) !== 0) throw new TypeError('anchor batch mixes hub keys');
  });
  if (first.epoch < 1n) throw new TypeError('epoch 0 cannot be anchored');
}
