import { describe, expect, it } from 'vitest';
import {
  concatBytes,
  decodeControl,
  defaultBackend,
  encodeChannelRecord,
  encodeControl,
  genesisHead,
  hexToBytes,
  REASONS,
  SIZE_CAPS,
  tag,
  type Control,
} from '../../protocol/index.js';
import { device, hub, makeChannel } from './fixtures.js';

const ch = makeChannel({ network: 'n'.repeat(64), unit: 'u'.repeat(16) }); // the largest record
const head = { seq: 9n, hash: new Uint8Array(32).fill(3), cumUnits: 9n, cumAmount: 63n };
const codeOf = (r: { ok: boolean; code?: string }) => (r.ok ? 'ok' : r.code);

const messages: Control[] = [
  { kind: 'grant', record: ch.record, capacity: 5000n, state: 'open', head: genesisHead(ch.channelId) },
  { kind: 'grant', record: ch.record, capacity: 1n, state: 'revoked', head },
  { kind: 'resync', channelId: ch.channelId, head, reason: 'BAD_LINK' },
  { kind: 'capacity', channelId: ch.channelId, capacity: 9000n, cumAmount: 63n, state: 'exhausted' },
  { kind: 'reject', channelId: ch.channelId, seq: 64n, reason: 'OVER_CAPACITY' },
];

describe('control messages [P-7]', () => {
  it('round-trip through encode, decode and the signature check', () => {
    for (const c of messages)
      expect(decodeControl(encodeControl(c, hub.secretKey), hub.publicKey)).toEqual({ ok: true, value: c });
  });

  it('carry type, version, body and a hub signature over tag("control") || type || version || body', () => {
    const types = messages.map((c) => encodeControl(c, hub.secretKey)[0]);
    expect(types).toEqual([0x10, 0x10, 0x11, 0x12, 0x13]);
    for (const c of messages) {
      const bytes = encodeControl(c, hub.secretKey);
      expect(bytes[1]).toBe(1);
      const body = bytes.subarray(0, bytes.length - 64);
      expect(
        defaultBackend.verify(bytes.subarray(bytes.length - 64), concatBytes(tag('control'), body), hub.publicKey),
      ).toBe(true);
      expect(bytes.length).toBeLessThanOrEqual(SIZE_CAPS.control);
    }
  });

  it('lays out the bodies of the clauses', () => {
    const record = encodeChannelRecord(ch.record);
    const grant = encodeControl(messages[0]!, hub.secretKey);
    const view = new DataView(grant.buffer);
    expect(view.getUint16(2)).toBe(record.length);
    expect(grant.subarray(4, 4 + record.length)).toEqual(record);
    expect(view.getBigUint64(4 + record.length)).toBe(5000n);
    expect(grant[12 + record.length]).toBe(1);
    expect(grant.length).toBe(2 + 2 + record.length + 8 + 1 + 56 + 64);
    const resync = encodeControl(messages[2]!, hub.secretKey);
    expect(resync.length).toBe(2 + 32 + 56 + 2 + 64);
    expect(new DataView(resync.buffer).getUint16(90)).toBe(REASONS.BAD_LINK.no);
    expect(encodeControl(messages[3]!, hub.secretKey).length).toBe(2 + 32 + 8 + 8 + 1 + 64);
    const reject = encodeControl(messages[4]!, hub.secretKey);
    expect(reject.length).toBe(2 + 32 + 8 + 2 + 64);
    expect(new DataView(reject.buffer).getUint16(42)).toBe(REASONS.OVER_CAPACITY.no);
  });

  it('rejects another signer, a flipped bit anywhere, and unknown values', () => {
    for (const c of messages) {
      const bytes = encodeControl(c, hub.secretKey);
      expect(codeOf(decodeControl(bytes, device.publicKey))).toBe('SIG_INVALID');
      for (let i = 2; i < bytes.length; i += 7) {
        const flipped = bytes.slice();
        flipped[i]! ^= 0x01;
        expect(codeOf(decodeControl(flipped, hub.publicKey))).not.toBe('ok');
      }
    }
    const capacity = encodeControl(messages[3]!, hub.secretKey);
    capacity[50] = 5; // state 5
    expect(codeOf(decodeControl(capacity, hub.publicKey))).toBe('DECODE_FIELD');
    const reject = encodeControl(messages[4]!, hub.secretKey);
    new DataView(reject.buffer).setUint16(42, 999); // no such reason number
    expect(codeOf(decodeControl(reject, hub.publicKey))).toBe('DECODE_FIELD');
  });

  it('checks a GRANT record length and the record itself', () => {
    const grant = encodeControl(messages[0]!, hub.secretKey);
    const short = grant.slice();
    new DataView(short.buffer).setUint16(2, 10);
    expect(codeOf(decodeControl(short, hub.publicKey))).toBe('DECODE_COUNT');
    const badKey = grant.slice();
    const deviceKeyAt = 4 + 1 + 1 + 64 + 32;
    badKey.set(hexToBytes('0100000000000000000000000000000000000000000000000000000000000000'), deviceKeyAt);
    expect(codeOf(decodeControl(badKey, hub.publicKey))).toBe('KEY_SMALL_ORDER');
    expect(codeOf(decodeControl(new Uint8Array([...grant, 0]), hub.publicKey))).toBe('DECODE_TRAILING');
  });

  it('accepts only the four control types, under the 512-byte cap', () => {
    const bytes = encodeControl(messages[4]!, hub.secretKey);
    for (const t of [0x01, 0x02, 0x04, 0x0f, 0x14]) {
      const other = bytes.slice();
      other[0] = t;
      expect(codeOf(decodeControl(other, hub.publicKey))).toBe('DECODE_TYPE');
    }
    expect(codeOf(decodeControl(new Uint8Array(513), hub.publicKey))).toBe('DECODE_TOO_LARGE');
  });

  it('throws when asked to encode what the wire cannot carry', () => {
    expect(() =>
      encodeControl(
        { ...(messages[4] as Extract<Control, { kind: 'reject' }>), reason: 'NOPE' as never },
        hub.secretKey,
      ),
    ).toThrow(TypeError);
    expect(() =>
      encodeControl({ ...(messages[3] as Extract<Control, { kind: 'capacity' }>), state: 'x' as never }, hub.secretKey),
    ).toThrow(TypeError);
  });
});
