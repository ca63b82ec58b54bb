// What the agent accepts from the hub, judged without a network [P-5.2, P-7.1].
import { describe, expect, it } from 'vitest';
import {
  channelIdOf,
  encodeChannelRecord,
  encodeReceipt,
  generateKeyPair,
  makeReceipt,
  type ChannelRecord,
} from '../../protocol/index.js';
import { judgeGrant, judgeReceipt } from '../../agent/downlink.js';

const hub = generateKeyPair();
const device = generateKeyPair();
const record: ChannelRecord = {
  network: 'net',
  hubKey: hub.publicKey,
  deviceKey: device.publicKey,
  unit: 'Wh',
  pricePerUnit: 2n,
  capacity: 100n,
  openedAtMs: 1n,
  expiresAtMs: 0n,
  nonce: 5n,
};
const channelId = channelIdOf(encodeChannelRecord(record));
const hash5 = new Uint8Array(32).fill(5);
const mine = { seq: 5n, cumUnits: 5n, cumAmount: 10n, deviceTimeMs: 0n, hash: hash5 };
const ctx: Parameters<typeof judgeReceipt>[1] = {
  hubKey: hub.publicKey,
  channelId,
  ackedSeq: 2n,
  head: { seq: 8n, hash: new Uint8Array(32), cumUnits: 8n, cumAmount: 16n },
  voucherAt: (seq: bigint) => (seq === 5n ? mine : undefined),
};
const receipt = (over: Partial<Parameters<typeof makeReceipt>[0]> = {}, signer = hub) =>
  encodeReceipt(
    makeReceipt(
      { channelId, seq: 5n, headHash: hash5, cumUnits: 5n, cumAmount: 10n, hubTimeMs: 9n, ...over },
      signer.secretKey,
    ),
  );

describe('judgeReceipt', () => {
  it('accepts a hub-signed receipt matching the device voucher at that seq', () => {
    const v = judgeReceipt(receipt(), ctx);
    expect(v.ok).toBe(true);
    if (v.ok === true) expect(v.value.seq).toBe(5n);
  });
  it('rejects forged, foreign, mismatching, out-of-range and malformed receipts, and ignores stale ones', () => {
    const code = (bytes: Uint8Array, c = ctx) => {
      const v = judgeReceipt(bytes, c);
      return v.ok === true ? 'ok' : v.ok === 'stale' ? 'stale' : `${v.code} ${v.detail.split(' ')[0]}`;
    };
    expect(code(receipt({}, generateKeyPair()))).toBe('RECEIPT_INVALID SIG_INVALID');
    expect(code(receipt({ channelId: new Uint8Array(32) }))).toBe('RECEIPT_INVALID WRONG_CHANNEL');
    expect(code(receipt({ headHash: new Uint8Array(32).fill(6) }))).toBe('RECEIPT_MISMATCH voucher');
    expect(code(receipt({ cumAmount: 11n }))).toBe('RECEIPT_MISMATCH voucher');
    expect(code(receipt({ seq: 9n }))).toBe('RECEIPT_MISMATCH receipt');
    expect(code(receipt({ seq: 6n }))).toBe('RECEIPT_MISMATCH no');
    expect(code(receipt({ seq: 2n }))).toBe('stale');
    expect(code(new Uint8Array(0))).toBe('RECEIPT_INVALID DECODE_EMPTY');
    expect(code(receipt().subarray(0, 100))).toMatch(/^RECEIPT_INVALID DECODE_/);
    expect(code(receipt(), { ...ctx, channelId: undefined })).toBe('RECEIPT_INVALID WRONG_CHANNEL');
  });
});

describe('judgeGrant', () => {
  const grant = (r: ChannelRecord, capacity = 100n) => ({
    kind: 'grant' as const,
    record: r,
    capacity,
    state: 'open' as const,
    head: { seq: 0n, hash: channelId, cumUnits: 0n, cumAmount: 0n },
  });
  it('accepts a grant naming the configured hub and this device, with the larger capacity', () => {
    const v = judgeGrant(grant(record, 500n), hub.publicKey, device.publicKey);
    expect(v.ok).toBe(true);
    if (v.ok) {
      expect(Buffer.from(v.value.channelId)).toEqual(Buffer.from(channelId));
      expect(v.value.capacity).toBe(500n);
    }
    const lower = judgeGrant(grant(record, 50n), hub.publicKey, device.publicKey);
    expect(lower.ok && lower.value.capacity).toBe(100n);
  });
  it('refuses a grant for another hub or another device', () => {
    const other = generateKeyPair().publicKey;
    expect(judgeGrant(grant({ ...record, hubKey: other }), hub.publicKey, device.publicKey)).toMatchObject({
      ok: false,
      code: 'GRANT_WRONG_HUB',
    });
    expect(judgeGrant(grant({ ...record, deviceKey: other }), hub.publicKey, device.publicKey)).toMatchObject({
      ok: false,
      code: 'GRANT_WRONG_DEVICE',
    });
  });
});
