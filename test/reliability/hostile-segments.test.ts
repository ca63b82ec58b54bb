// Hostile input on the voucher topics, through the hub's real ingest pipeline and SQLite store:
// every malformed, oversized, out-of-rule or replayed segment is refused with its reason code,
// counted, and moves no balance; valid traffic afterwards is still taken.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSegment, encodeSegment, genesisHead, SIZE_CAPS, U64_MAX } from '../../protocol/index.js';
import { bareCore, type BareCore } from '../hub/helpers/bare-core.js';
import { tempDir } from '../hub/helpers/hub.js';
import { BareDevice, commitTurn, rejectionCounts } from '../hub/helpers/bare-device.js';
import { recorder } from './helpers/record.js';

const rec = recorder('hostile-segments');

describe('hostile segments on the uplink', () => {
  let tmp: ReturnType<typeof tempDir>;
  let hub: BareCore;
  beforeEach(async () => {
    tmp = tempDir();
    hub = await bareCore(tmp.dir);
  });
  afterEach(async () => {
    await hub.close();
    tmp.cleanup();
  });

  /** Sends one hostile input to a device with 4 accepted vouchers; returns the reason counted. */
  async function refused(d: BareDevice, bytes: Uint8Array, asDevice?: string): Promise<string[]> {
    const before = await rejectionCounts(hub);
    const head = await d.durable();
    d.send(bytes, asDevice);
    await commitTurn();
    const after = await rejectionCounts(hub);
    expect(await d.durable()).toEqual(head);
    return Object.keys(after).filter((k) => after[k] !== before[k]);
  }

  async function started(terms: Parameters<typeof BareDevice.enrol>[1] = {}): Promise<BareDevice> {
    const d = await BareDevice.enrol(hub, terms);
    d.send(d.build(4));
    await commitTurn();
    expect((await d.durable()).seq).toBe(4n);
    return d;
  }

  it('refuses malformed, truncated, oversized, wrong-version and huge-count segments at decode', async () => {
    const d = await started();
    const good = encodeSegment(d.build(2, 1n, { advance: false }).segment);
    const mutate = (f: (b: Uint8Array) => void) => {
      const b = new Uint8Array(good);
      f(b);
      return b;
    };
    const cases: [string, Uint8Array, string][] = [
      ['empty', new Uint8Array(0), 'DECODE_EMPTY'],
      ['one byte', new Uint8Array([1]), 'DECODE_TRUNCATED'],
      ['truncated by one byte', good.subarray(0, good.length - 1), 'DECODE_TRUNCATED'],
      ['a trailing byte', new Uint8Array([...good, 0]), 'DECODE_TRAILING'],
      ['over the size cap by one byte', new Uint8Array(SIZE_CAPS.segment + 1), 'DECODE_TOO_LARGE'],
      ['one MiB', new Uint8Array(1 << 20).fill(0xff), 'DECODE_TOO_LARGE'],
      ['wrong version', mutate((b) => (b[1] = 2)), 'DECODE_VERSION'],
      ['wrong type', mutate((b) => (b[0] = 0x7f)), 'DECODE_TYPE'],
      [
        'count 0',
        mutate((b) => {
          b[74] = 0;
          b[75] = 0;
        }),
        'DECODE_COUNT',
      ],
      [
        'count 65535',
        mutate((b) => {
          b[74] = 0xff;
          b[75] = 0xff;
        }),
        'DECODE_COUNT',
      ],
      ['firstSeq 0', mutate((b) => b.fill(0, 34, 42)), 'DECODE_FIELD'],
      ['last seq beyond u64', mutate((b) => b.fill(0xff, 34, 42)), 'U64_OVERFLOW'],
    ];
    const observed: string[] = [];
    for (const [name, bytes, reason] of cases) {
      const got = await refused(d, bytes);
      observed.push(`${name}: ${got.join(',')}`);
      expect(got, name).toEqual([reason]);
    }
    // Nothing is verified before the size cap: a capped message never reaches a stage past decode.
    const rows = await hub.core.ledger.recentRejections({ limit: 100, reason: 'DECODE_TOO_LARGE' });
    expect(rows.length).toBe(2);
    expect(rows.every((r) => r.stage === 'decode')).toBe(true);
    d.send(d.build(2));
    await commitTurn();
    expect((await d.durable()).seq).toBe(6n);
    rec.record({
      case: 'malformed, truncated, oversized, wrong version, huge counts',
      expected: 'each refused at decode with its code; oversized before verification; balance unchanged',
      observed: `${observed.join('; ')}; oversized ones refused at stage decode; the stream then continued to seq 6`,
      figures: { inputs: cases.length, rejected: cases.length },
    });
  });

  it('refuses out-of-rule vouchers: lower seq, higher seq with a lower amount, overflow, over capacity', async () => {
    const d = await started({ price: 3n, capacity: 30n });
    const head = d.head;
    // Signed properly by the device key: the device's own (buggy or malicious) vouchers.
    const signedWith = (vouchers: { cumUnits: bigint; cumAmount: bigint }[]) =>
      encodeSegment(
        buildSegment({
          channelId: d.channelId,
          prev: head,
          vouchers: vouchers.map((v, i) => ({ ...v, deviceTimeMs: 5_000n + BigInt(i) })),
          secretKey: d.key.secretKey,
        }).segment,
      );
    const unsigned = encodeSegment({
      ...d.build(2, 5n, { prev: genesisHead(d.channelId), advance: false }).segment,
      signature: new Uint8Array(64).fill(9),
    });
    const cases: [string, Uint8Array, string][] = [
      ['higher seq, lower amount', signedWith([{ cumUnits: 5n, cumAmount: 3n }]), 'AMOUNT_DECREASED'],
      ['units not increasing', signedWith([{ cumUnits: 4n, cumAmount: 12n }]), 'UNITS_NOT_INCREASING'],
      ['amount not units x price', signedWith([{ cumUnits: 5n, cumAmount: 16n }]), 'AMOUNT_PRICE_MISMATCH'],
      ['amount at u64 max', signedWith([{ cumUnits: 5n, cumAmount: U64_MAX }]), 'AMOUNT_PRICE_MISMATCH'],
      [
        'units at u64 max (price x units overflows)',
        signedWith([{ cumUnits: U64_MAX, cumAmount: U64_MAX }]),
        'U64_OVERFLOW',
      ],
      ['over capacity', signedWith([{ cumUnits: 11n, cumAmount: 33n }]), 'OVER_CAPACITY'],
      ['lower seq, other content, bad signature', unsigned, 'SIG_INVALID'],
    ];
    for (const [name, bytes, reason] of cases) expect(await refused(d, bytes), name).toEqual([reason]);
    rec.record({
      case: 'lower seq, higher seq with lower amount, huge and overflowing amounts, over capacity',
      expected:
        'refused with AMOUNT_DECREASED, UNITS_NOT_INCREASING, AMOUNT_PRICE_MISMATCH, U64_OVERFLOW, OVER_CAPACITY, SIG_INVALID; balance unchanged',
      observed: `${cases.length} signed out-of-rule segments refused with the expected codes; head stayed at seq 4`,
      figures: { inputs: cases.length, rejected: cases.length },
    });
  });
});
