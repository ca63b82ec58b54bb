import { describe, expect, it } from 'vitest';
import {
  backends,
  concatBytes,
  decodeReceipt,
  decodeStatus,
  encodeReceipt,
  encodeStatus,
  makeReceipt,
  RECEIPT_SIZE,
  STATUS_SIZE,
  tag,
  U64_MAX,
  verifyReceipt,
  type Receipt,
  type Status,
} from '../../protocol/index.js';
import { device, hub, makeChannel } from './fixtures.js';

const ch = makeChannel();
const codeOf = (r: { ok: boolean; code?: string }) => (r.ok ? 'ok' : r.code);
const fields = {
  channelId: ch.channelId,
  seq: 64n,
  headHash: new Uint8Array(32).fill(5),
  cumUnits: 64n,
  cumAmount: 448n,
  hubTimeMs: 1_700_000_000_123n,
};

describe('receipt [P-5.1]', () => {
  const receipt = makeReceipt(fields, hub.secretKey);

  it('is 162 bytes, signed over the tag and every byte before the signature', () => {
    const bytes = encodeReceipt(receipt);
    expect(bytes.length).toBe(162);
    expect(RECEIPT_SIZE).toBe(162);
    expect([bytes[0], bytes[1]]).toEqual([0x02, 1]);
    const view = new DataView(bytes.buffer);
    expect(view.getBigUint64(34)).toBe(64n);
    expect(view.getBigUint64(90)).toBe(fields.hubTimeMs);
    for (const backend of backends) {
      expect(
        backend.verify(bytes.subarray(98), concatBytes(tag('receipt'), bytes.subarray(0, 98)), hub.publicKey),
      ).toBe(true);
    }
  });

  it('round-trips and verifies with the hub key only', () => {
    const decoded = decodeReceipt(encodeReceipt(receipt));
    expect(decoded).toEqual({ ok: true, value: receipt });
    expect(verifyReceipt(receipt, hub.publicKey)).toBe(true);
    expect(verifyReceipt(receipt, device.publicKey)).toBe(false);
  });

  it('fails verification when any field changes', () => {
    const changes: Partial<Receipt>[] = [
      { seq: 65n },
      { cumUnits: 65n },
      { cumAmount: 449n },
      { hubTimeMs: 0n },
      { headHash: new Uint8Array(32).fill(6) },
      { channelId: new Uint8Array(32) },
    ];
    for (const change of changes) expect(verifyReceipt({ ...receipt, ...change }, hub.publicKey)).toBe(false);
    expect(verifyReceipt({ ...receipt, seq: U64_MAX + 1n }, hub.publicKey)).toBe(false);
    expect(verifyReceipt(null as unknown as Receipt, hub.publicKey)).toBe(false);
  });

  it('has a fixed size, so a longer receipt is over the cap', () => {
    const bytes = encodeReceipt(receipt);
    expect(codeOf(decodeReceipt(new Uint8Array([...bytes, 0])))).toBe('DECODE_TOO_LARGE');
    expect(codeOf(decodeReceipt(bytes.subarray(0, 161)))).toBe('DECODE_TRUNCATED');
    const status = bytes.slice();
    status[0] = 0x04;
    expect(codeOf(decodeReceipt(status))).toBe('DECODE_TYPE');
    expect(() => makeReceipt({ ...fields, cumAmount: -1n }, hub.secretKey)).toThrow(TypeError);
  });
});

describe('status [P-6.6]', () => {
  const status: Status = {
    state: 'hello',
    channelId: new Uint8Array(32),
    ackedSeq: 12n,
    outboxDepth: 70_000,
    deviceTimeMs: 5n,
  };

  it('is 55 bytes with the state numbered 1..4', () => {
    const bytes = encodeStatus(status);
    expect(bytes.length).toBe(STATUS_SIZE);
    expect(STATUS_SIZE).toBe(55);
    expect([bytes[0], bytes[1], bytes[2]]).toEqual([0x04, 1, 4]);
    expect(new DataView(bytes.buffer).getUint32(43)).toBe(70_000);
    const states = (['online', 'offline', 'exhausted', 'hello'] as const).map(
      (state) => encodeStatus({ ...status, state })[2],
    );
    expect(states).toEqual([1, 2, 3, 4]);
  });

  it('round-trips and rejects unknown states', () => {
    for (const state of ['online', 'offline', 'exhausted', 'hello'] as const) {
      expect(decodeStatus(encodeStatus({ ...status, state }))).toEqual({ ok: true, value: { ...status, state } });
    }
    for (const n of [0, 5, 255]) {
      const bytes = encodeStatus(status);
      bytes[2] = n;
      expect(codeOf(decodeStatus(bytes))).toBe('DECODE_FIELD');
    }
    expect(() => encodeStatus({ ...status, state: 'asleep' as never })).toThrow(TypeError);
    expect(() => encodeStatus({ ...status, outboxDepth: 2 ** 32 })).toThrow(TypeError);
  });
});
