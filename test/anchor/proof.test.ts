// The anchor proof is untrusted input (it will ride in bundles): strict parsing, every malformed
// shape refused with DECODE_FIELD, and the target comes only from the hub-signed record's bytes.
import { describe, expect, it } from 'vitest';
import { encodeEpochRecord, generateKeyPair } from '../../protocol/index.js';
import { assertBatch, parseProof, proofToJson, targetOfRecord, type AnchorProof } from '../../hub/anchor/index.js';
import { epochChain } from './helpers/records.js';

const proof: AnchorProof = {
  chainId: 8453n,
  contract: `0x${'ab'.repeat(20)}`,
  anchorer: `0x${'cd'.repeat(20)}`,
  txHash: `0x${'01'.repeat(32)}`,
  blockNumber: 123_456_789n,
  blockHash: `0x${'02'.repeat(32)}`,
};

describe('anchor proof JSON', () => {
  it('round-trips through JSON text', () => {
    const json = proofToJson(proof);
    expect(json).toEqual({
      chainId: '8453',
      contract: proof.contract,
      anchorer: proof.anchorer,
      txHash: proof.txHash,
      blockNumber: '123456789',
      blockHash: proof.blockHash,
    });
    expect(parseProof(JSON.parse(JSON.stringify(json)))).toEqual({ ok: true, value: proof });
  });

  const good = proofToJson(proof);
  const cases: [string, unknown][] = [
    ['null', null],
    ['an array', [good]],
    ['a string', JSON.stringify(good)],
    ['an empty object', {}],
    ['an unknown field', { ...good, root: '00' }],
    ['a missing field', { ...good, txHash: undefined }],
    ['a number instead of a decimal string', { ...good, blockNumber: 123 }],
    ['a negative block', { ...good, blockNumber: '-1' }],
    ['a leading zero', { ...good, blockNumber: '0123' }],
    ['a block above u64', { ...good, blockNumber: '18446744073709551616' }],
    ['chain id 0', { ...good, chainId: '0' }],
    ['uppercase hex', { ...good, contract: good.contract.toUpperCase().replace('0X', '0x') }],
    ['hex without 0x', { ...good, contract: good.contract.slice(2) }],
    ['a short address', { ...good, anchorer: good.anchorer.slice(0, -2) }],
    ['a long hash', { ...good, blockHash: `${good.blockHash}00` }],
    ['a non-hex character', { ...good, txHash: `${good.txHash.slice(0, -1)}g` }],
  ];
  it.each(cases)('refuses %s with DECODE_FIELD', (_name, value) => {
    expect(parseProof(value)).toMatchObject({ ok: false, code: 'DECODE_FIELD' });
  });
});

describe('anchor target', () => {
  it("is the hub key, epoch and root of the record's exact bytes", () => {
    const [epoch] = epochChain(1);
    expect(targetOfRecord(epoch!.bytes)).toEqual({
      ok: true,
      value: { hubKey: epoch!.record.hubKey, epoch: 1n, root: epoch!.record.root },
    });
  });

  it('refuses a record that does not decode (empty, truncated, trailing bytes, wrong version) and epoch 0', () => {
    const [epoch] = epochChain(1);
    const bytes = epoch!.bytes;
    const wrongVersion = Uint8Array.from(bytes);
    wrongVersion[0] = 9;
    for (const bad of [new Uint8Array(0), bytes.subarray(0, 40), Uint8Array.of(...bytes, 0), wrongVersion])
      expect(targetOfRecord(bad).ok).toBe(false);
    const zero = encodeEpochRecord({ ...epoch!.record, epoch: 0n });
    expect(targetOfRecord(zero)).toMatchObject({ ok: false, code: 'DECODE_FIELD' });
  });

  it('a batch is one hub key and consecutive epochs (a programmer error otherwise)', () => {
    const hub = generateKeyPair();
    const t = (epoch: bigint, key = hub.publicKey) => ({ hubKey: key, epoch, root: new Uint8Array(32) });
    expect(() => assertBatch([t(4n), t(5n), t(6n)])).not.toThrow();
    expect(() => assertBatch([])).toThrow(TypeError);
    expect(() => assertBatch([t(4n), t(6n)])).toThrow(TypeError);
    expect(() => assertBatch([t(4n), t(5n, generateKeyPair().publicKey)])).toThrow(TypeError);
    expect(() => assertBatch([t(0n)])).toThrow(TypeError);
  });
});
