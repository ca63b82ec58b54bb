// Replayed and misdirected vouchers, and clock skew, through the real ingest pipeline and SQLite:
// a voucher counts only on its own channel of its own hub while that channel is open, and the
// device clock never decides anything [P-3.1, P-4.1].
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeSegment, type BuiltSegment } from '../../protocol/index.js';
import { bareCore, type BareCore } from '../hub/helpers/bare-core.js';
import { tempDir } from '../hub/helpers/hub.js';
import { BareDevice, commitTurn, rejectionCounts } from '../hub/helpers/bare-device.js';
import { recorder } from './helpers/record.js';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const DAY = 86_400_000n;
const rec = recorder('hostile-replay');

/** The same segment with S replaced by S + L: a different encoding of an equally valid scalar. */
function malleated(built: BuiltSegment): Uint8Array {
  const sig = new Uint8Array(built.segment.signature);
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
  s += L; // S < L < 2^253, so S + L still fits in 32 bytes
  for (let i = 0; i < 32; i++) sig[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
  return encodeSegment({ ...built.segment, signature: sig });
}

describe('replayed, misdirected and skewed vouchers', () => {
  const dirs: ReturnType<typeof tempDir>[] = [];
  const hubs: BareCore[] = [];
  let clock: number;
  let hub: BareCore;

  const newHub = async (network: string) => {
    const t = tempDir();
    dirs.push(t);
    const h = await bareCore(t.dir, { now: () => clock, network });
    hubs.push(h);
    return h;
  };

  beforeEach(async () => {
    clock = 1_700_000_000_000;
    hub = await newHub('site-a');
  });
  afterEach(async () => {
    for (const h of hubs.splice(0)) await h.close();
    for (const t of dirs.splice(0)) t.cleanup();
  });

  async function deliver(d: BareDevice, seg: BuiltSegment | Uint8Array, asDevice?: string): Promise<void> {
    d.send(seg, asDevice);
    await commitTurn();
  }

  it('refuses a voucher replayed on another channel, on another hub, after close and after expiry', async () => {
    const a = await BareDevice.enrol(hub);
    const b = await BareDevice.enrol(hub);
    const aSeg = a.build(3);
    await deliver(a, aSeg);
    await deliver(b, b.build(3));
    // On B's topic: the broker would refuse it; the hub refuses it too.
    await deliver(b, aSeg, b.hex);
    // Rewritten for B's channel: the voucher hashes commit to the channel id, so it conflicts with
    // B's stored seqs 1-3 and its signature no longer covers it.
    await deliver(b, encodeSegment({ ...aSeg.segment, channelId: b.channelId }), b.hex);
    // Another hub where the same device key is enrolled: its channel there has another id.
    const other = await newHub('site-b');
    const aThere = await BareDevice.enrol(other, {}, a.key);
    aThere.send(aSeg);
    await commitTurn();
    // After close: even the next valid voucher is refused; an old one too.
    const c = await BareDevice.enrol(hub);
    const cSeg = c.build(2);
    await deliver(c, cSeg);
    await hub.core.closeChannel(Buffer.from(c.channelId).toString('hex'));
    await deliver(c, c.build(2));
    await deliver(c, cSeg);
    // After expiry, by the hub clock.
    const e = await BareDevice.enrol(hub, { expiresAtMs: BigInt(clock) + 60_000n });
    await deliver(e, e.build(2));
    clock += 61_000;
    await deliver(e, e.build(2));

    const here = await rejectionCounts(hub);
    const there = await rejectionCounts(other);
    expect(here.TOPIC_MISMATCH).toBe(1n);
    expect(here.SIG_INVALID).toBe(1n);
    expect(there.UNKNOWN_CHANNEL).toBe(1n);
    expect(here.CHANNEL_CLOSED).toBe(2n);
    expect(here.CHANNEL_EXPIRED).toBe(1n);
    expect([
      (await a.durable()).seq,
      (await b.durable()).seq,
      (await c.durable()).seq,
      (await e.durable()).seq,
      (await aThere.durable()).seq,
    ]).toEqual([3n, 3n, 2n, 2n, 0n]);
    rec.record({
      case: 'voucher replayed on another channel, another hub, after close, after expiry',
      expected:
        'TOPIC_MISMATCH (or SIG_INVALID when rewritten) on another channel, UNKNOWN_CHANNEL on another hub, CHANNEL_CLOSED, CHANNEL_EXPIRED; no balance moves',
      observed: `TOPIC_MISMATCH ${here.TOPIC_MISMATCH}, SIG_INVALID ${here.SIG_INVALID}, UNKNOWN_CHANNEL ${there.UNKNOWN_CHANNEL}, CHANNEL_CLOSED ${here.CHANNEL_CLOSED}, CHANNEL_EXPIRED ${here.CHANNEL_EXPIRED}; heads 3,3,2,2,0`,
      figures: { inputs: 6, rejected: 6, lost: '0', duplicated: '0' },
    });
  });

  it('refuses a malleable signature (S + L) and takes the canonical one, counted once', async () => {
    const d = await BareDevice.enrol(hub);
    const seg = d.build(5);
    await deliver(d, malleated(seg));
    expect((await d.durable()).seq).toBe(0n);
    await deliver(d, seg);
    await deliver(d, malleated(seg)); // again, now over a stored chain: an identical voucher run
    expect((await d.durable()).seq).toBe(5n);
    expect((await d.durable()).cumUnits).toBe(5n);
    const counts = await rejectionCounts(hub);
    expect(counts.SIG_INVALID).toBe(1n);
    rec.record({
      case: 'malleable signature (S + L)',
      expected: 'refused SIG_INVALID before the canonical one; the canonical one counted once',
      observed: `SIG_INVALID ${counts.SIG_INVALID}; head seq 5, 5 units; the later S + L copy ${counts.DUPLICATE ? 'acknowledged as a duplicate, not counted' : 'refused'}`,
      figures: {
        inputs: 3,
        rejected: Number(counts.SIG_INVALID ?? 0n) + Number(counts.DUPLICATE ?? 0n),
        duplicated: '0',
      },
    });
  });

  it('takes vouchers whose device clock is a day ahead or behind, and leaves expiry to the hub clock', async () => {
    const ahead = await BareDevice.enrol(hub, { expiresAtMs: BigInt(clock) + DAY / 2n });
    const behind = await BareDevice.enrol(hub);
    await deliver(ahead, ahead.build(3, 1n, { timeShiftMs: BigInt(clock) + DAY }));
    await deliver(behind, behind.build(3, 1n, { timeShiftMs: BigInt(clock) - DAY }));
    expect((await ahead.durable()).seq).toBe(3n);
    expect((await behind.durable()).seq).toBe(3n);
    // The device's clock said "tomorrow" but the channel expires by the hub's clock only.
    clock += Number(DAY);
    await deliver(ahead, ahead.build(1));
    expect((await rejectionCounts(hub)).CHANNEL_EXPIRED).toBe(1n);
    rec.record({
      case: 'device clock skewed by a day',
      expected: 'accepted either way (device time is informational); expiry decided by the hub clock',
      observed: `both channels at seq 3; after the hub clock passed expiry: CHANNEL_EXPIRED 1`,
      figures: { lost: '0', duplicated: '0', rejected: 1 },
    });
  });
});
