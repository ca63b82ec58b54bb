// Golden vectors [docs/protocol.md]: test/vectors/tally-v1.json pins the exact bytes of every
// structure built from fixed seeds. This test fails when the code drifts from the file, and checks
// the file's bytes independently (raw SHA-256 with the tag spelled out, both Ed25519 backends).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeVectors, vectorsJson, VECTORS_PATH } from '../../scripts/make-vectors.js';
import {
  backends,
  decodeControl,
  decodeReceipt,
  decodeSegment,
  decodeStatus,
  encodeReceipt,
  encodeSegment,
  encodeStatus,
  hexToBytes,
  nodeBackend,
  verifyBundle,
  verifyMerkleProof,
  verifyMqttCredential,
} from '../../protocol/index.js';

// The vectors file is untyped JSON read field by field by the assertions below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const file: Json = JSON.parse(readFileSync(VECTORS_PATH, 'utf8'));
const fresh: Json = JSON.parse(vectorsJson());
const h = hexToBytes;

/** SHA-256 of `tally/v1/<name>` || 0x00 || parts, written out here rather than taken from the code. */
function tagged(name: string, ...parts: Uint8Array[]): string {
  const hash = createHash('sha256').update(`tally/v1/${name}\0`, 'latin1');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
}
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const tagBytes = (name: string) => new Uint8Array(Buffer.from(`tally/v1/${name}\0`, 'latin1'));

describe('golden vectors: the code still produces the committed bytes', () => {
  for (const section of Object.keys(fresh)) {
    it(section, () => expect(file[section]).toEqual(fresh[section]));
  }
  it('has no section the code no longer produces, and the same text', () => {
    expect(Object.keys(file).sort()).toEqual(Object.keys(fresh).sort());
    expect(readFileSync(VECTORS_PATH, 'utf8')).toBe(vectorsJson());
  });
  it('is deterministic', () => {
    expect(JSON.stringify(computeVectors(), (_, v) => (typeof v === 'bigint' ? v.toString() : v))).toBe(
      JSON.stringify(computeVectors(), (_, v) => (typeof v === 'bigint' ? v.toString() : v)),
    );
  });
});

describe('golden vectors: the committed bytes check out independently', () => {
  const hubKey = h(file.keys.hub.publicKey);
  const deviceKey = h(file.keys.device.publicKey);

  it('derives both public keys from their seeds on every backend', () => {
    for (const b of backends) {
      expect(b.publicKeyOf(h(file.keys.hub.seed))).toEqual(hubKey);
      expect(b.publicKeyOf(h(file.keys.device.seed))).toEqual(deviceKey);
    }
  });

  it('channel id = H(tag("channel") || record) [P-3.2]', () => {
    expect(file.channel.channelId).toBe(tagged('channel', h(file.channel.recordBytes)));
  });

  it('voucher hashes chain from the channel id [P-4.2]', () => {
    let prev = file.channel.channelId;
    for (const v of file.vouchers) {
      expect(v.bytes.length).toBe(192);
      expect(v.bytes.slice(128)).toBe(prev);
      expect(v.hash).toBe(tagged('voucher', h(v.bytes)));
      prev = v.hash;
    }
    expect(file.segment3.head.hash).toBe(prev);
  });

  it('segments decode, re-encode to the same bytes, and carry a valid device signature [P-4.4, P-6.5]', () => {
    for (const [seg, size] of [
      [file.segment3, 212],
      [file.segment64, 1676],
    ] as const) {
      const wire = h(seg.wire);
      expect(wire.length).toBe(size);
      const decoded = decodeSegment(wire);
      expect(decoded.ok).toBe(true);
      if (decoded.ok) expect(encodeSegment(decoded.value)).toEqual(wire);
      const message = concat(tagBytes('segment'), h(seg.head.hash));
      for (const b of backends) expect(b.verify(h(seg.signature), message, deviceKey)).toBe(true);
      // RFC 8032 signatures are deterministic: OpenSSL signs the same bytes as the reference.
      expect(nodeBackend.sign(message, h(file.keys.device.seed))).toEqual(h(seg.signature));
    }
    expect(file.segment64.lastVoucher.length).toBe(192);
    expect(tagged('voucher', h(file.segment64.lastVoucher))).toBe(file.segment64.head.hash);
  });

  it('the receipt is 162 bytes signed by the hub [P-5.1]', () => {
    const wire = h(file.receipt.wire);
    expect(wire.length).toBe(162);
    const message = concat(tagBytes('receipt'), wire.subarray(0, 98));
    for (const b of backends) expect(b.verify(wire.subarray(98), message, hubKey)).toBe(true);
    const decoded = decodeReceipt(wire);
    expect(decoded.ok && encodeReceipt(decoded.value)).toEqual(wire);
  });

  it('control messages decode under the hub key [P-7]', () => {
    const types: Record<string, number> = { grant: 0x10, resync: 0x11, capacity: 0x12, reject: 0x13 };
    for (const [name, hex] of Object.entries(file.control as Record<string, string>)) {
      const wire = h(hex);
      expect(wire[0]).toBe(types[name]);
      const decoded = decodeControl(wire, hubKey);
      expect(decoded.ok && decoded.value.kind).toBe(name);
      const message = concat(tagBytes('control'), wire.subarray(0, wire.length - 64));
      for (const b of backends) expect(b.verify(wire.subarray(wire.length - 64), message, hubKey)).toBe(true);
    }
  });

  it('the status is 55 bytes and round-trips [P-6.6]', () => {
    const wire = h(file.status.wire);
    expect(wire.length).toBe(55);
    const decoded = decodeStatus(wire);
    expect(decoded.ok && encodeStatus(decoded.value)).toEqual(wire);
  });

  it('the broker credential verifies for its hub [P-6.4]', () => {
    const c = file.mqttCredential;
    const result = verifyMqttCredential({
      hubKey,
      username: c.username,
      password: c.password,
      nowMs: BigInt(c.issuedAtMs),
      windowMs: 0n,
    });
    expect(result.ok).toBe(true);
  });

  it('settlement: entries, root, proof and the signed epoch record agree [P-8]', () => {
    const s = file.settlement;
    const leaves = s.epoch2Entries.map((e: Json) => h(e.bytes));
    for (const leaf of leaves) expect(leaf.length).toBe(153);
    // Three leaves: (a, b) paired, c carried up unchanged [P-8.3].
    const [a, b, c] = leaves.map((l: Uint8Array) => h(tagged('merkle-leaf', l)));
    const root = tagged('merkle-node', h(tagged('merkle-node', a, b)), c);
    expect(s.merkleRoot).toBe(root);
    const proof = { index: s.proof.index, leafCount: s.proof.leafCount, siblings: s.proof.siblings.map(h) };
    expect(verifyMerkleProof(leaves[s.proof.index], proof, h(root))).toBe(true);
    expect(s.epochRecord.bytes.endsWith(root)).toBe(true);
    const message = concat(tagBytes('epoch'), h(s.epochRecord.bytes));
    for (const backend of backends) expect(backend.verify(h(s.epochRecord.signature), message, hubKey)).toBe(true);
    // Version 2, what a hub exports: every delta rests on device signatures [P-8.5, P-8.7].
    expect(s.bundle.format).toBe('tally-settlement-bundle/2');
    expect(verifyBundle(s.bundle, { hubKey })).toMatchObject({ ok: true, summary: { deltas: 'device-signed' } });
    const entry = s.bundle.entries.find((e: Json) => e.prevVoucher !== undefined);
    const prevHash = tagged('voucher', h(entry.prevVoucher));
    for (const backend of backends)
      expect(backend.verify(h(entry.prevSignature), concat(tagBytes('segment'), h(prevHash)), deviceKey)).toBe(true);
    // Version 1, the same evidence without that signature, still verifies: its deltas hub-attested.
    expect(s.bundleV1.format).toBe('tally-settlement-bundle/1');
    expect(verifyBundle(s.bundleV1, { hubKey })).toMatchObject({ ok: true, summary: { deltas: 'hub-attested' } });
  });

  it('a version-2 channel: EUR at exponent 6, its GRANT, and a bundle that verifies [P-3.1, P-7.1, P-8.5]', () => {
    const v = file.channelV2;
    const bytes = h(v.channel.recordBytes);
    expect(bytes[0]).toBe(2);
    // network, both keys and the unit as in version 1; then "EUR" (length 3) and the exponent 6.
    const afterUnit = 1 + 1 + 'tally-test'.length + 64 + 1 + 'Wh'.length;
    expect(Buffer.from(bytes.subarray(afterUnit, afterUnit + 5)).toString('hex')).toBe('0345555206');
    expect(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(afterUnit + 5)).toBe(300n);
    expect(v.channel.channelId).toBe(tagged('channel', bytes));
    expect(v.display).toEqual({ pricePerUnit: '0.000300 EUR', headAmount: '0.001800 EUR' });
    const grant = decodeControl(h(v.grant), hubKey);
    expect(grant.ok && grant.value.kind === 'grant' && grant.value.record).toMatchObject({
      currency: 'EUR',
      exponent: 6,
    });
    const verdict = verifyBundle(v.settlement.bundle, { hubKey });
    expect(verdict).toMatchObject({
      ok: true,
      summary: { channels: [{ currency: 'EUR', exponent: 6, cumAmount: 1800n }] },
    });
  });
});
