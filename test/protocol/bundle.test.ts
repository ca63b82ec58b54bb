// Settlement bundles verify offline with nothing but themselves [P-8.5]; any tampering, and any
// hub that signs entries its evidence does not support, is caught with a reason; garbage gets
// reasons, never an exception.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildBundle,
  decodeVoucher,
  encodeEntry,
  encodeVoucher,
  encodeEpochRecord,
  fromHex,
  REASONS,
  signEpoch,
  toHex,
  verifyBundle,
  type BundleJson,
  type BundleVerdict,
  type SettlementEntry,
  voucherHash,
} from '../../protocol/index.js';
import { device, hub, settledEpoch, signBundle } from './fixtures.js';

const clone = (b: BundleJson): BundleJson => structuredClone(b);
const codes = (v: BundleVerdict): string[] => (v.ok ? [] : v.reasons.map((r) => r.code));

function expectRejected(v: BundleVerdict, code?: string): void {
  expect(v.ok).toBe(false);
  if (v.ok) return;
  expect(v.reasons.length).toBeGreaterThan(0);
  for (const r of v.reasons) expect(Object.hasOwn(REASONS, r.code)).toBe(true);
  if (code !== undefined) expect(codes(v)).toContain(code);
}

/** Every hex string of a bundle, as [getter, setter] pairs, with a name for messages. */
function hexFields(b: BundleJson): Array<{ name: string; get: () => string; set: (v: string) => void }> {
  const fields = [
    { name: 'epoch.record', get: () => b.epoch.record, set: (v: string) => void (b.epoch.record = v) },
    { name: 'epoch.signature', get: () => b.epoch.signature, set: (v: string) => void (b.epoch.signature = v) },
  ];
  b.entries.forEach((e, i) => {
    for (const key of [
      'entry',
      'channelRecord',
      'headVoucher',
      'headSignature',
      'prevVoucher',
      'prevSignature',
    ] as const) {
      if (e[key] !== undefined)
        fields.push({ name: `entries[${i}].${key}`, get: () => e[key]!, set: (v) => void (e[key] = v) });
    }
    e.proof.siblings.forEach((_, k) => {
      fields.push({
        name: `entries[${i}].siblings[${k}]`,
        get: () => e.proof.siblings[k]!,
        set: (v) => void (e.proof.siblings[k] = v),
      });
    });
  });
  return fields;
}

function flipByte(hex: string, at: number, mask: number): string {
  const bytes = fromHex(hex)!;
  bytes[at]! ^= mask;
  return toHex(bytes);
}

describe('verifyBundle: valid bundles', () => {
  it('verifies first spans, later spans, a single entry and an empty epoch', () => {
    for (const [n, later] of [
      [3, false],
      [4, true],
      [1, false],
      [1, true],
      [0, false],
    ] as const) {
      const { bundle, record } = settledEpoch(n, later);
      const v = verifyBundle(bundle);
      expect(v, `n=${n} later=${later} ${JSON.stringify(codes(v))}`).toMatchObject({ ok: true });
      if (!v.ok) continue;
      expect(v.summary.complete).toBe(true);
      expect(v.summary.channels).toHaveLength(n);
      expect(v.summary.totalDeltaAmount).toBe(record.totalDeltaAmount);
      expect(v.summary.hubKey).toBe(toHex(hub.publicKey));
    }
  });

  it('verifies from its JSON text, and with the expected hub key', () => {
    const { bundle } = settledEpoch(3, true);
    expect(verifyBundle(JSON.stringify(bundle)).ok).toBe(true);
    expect(verifyBundle(bundle, { hubKey: hub.publicKey }).ok).toBe(true);
    expectRejected(verifyBundle(bundle, { hubKey: device.publicKey }), 'SIG_INVALID');
  });

  it('verifies a one-customer subset of an epoch', () => {
    const { inputs, bundle: full } = settledEpoch(5, true);
    const { record } = signBundle(inputs);
    const epochEntries = inputs.map((i) => encodeEntry(i.entry as SettlementEntry));
    const subset: BundleJson = buildBundle({
      epochRecord: encodeEpochRecord(record),
      epochSignature: signEpoch(record, hub.secretKey),
      entries: [inputs[2]!],
      epochEntries,
    });
    const v = verifyBundle(subset);
    expect(v.ok && v.summary.complete).toBe(false);
    expect(v.ok && v.summary.channels.length).toBe(1);
    expect(full.entries.map((e) => e.entry)).toContain(subset.entries[0]!.entry);
  });
});

describe('verifyBundle: tampering', () => {
  const { bundle } = settledEpoch(3, true);

  it('fails, with a reason, when any single byte of any hex field changes', () => {
    const fields = hexFields(clone(bundle));
    let flips = 0;
    for (const field of fields) {
      const length = field.get().length / 2;
      for (let at = 0; at < length; at++) {
        const copy = clone(bundle);
        const target = hexFields(copy).find((f) => f.name === field.name)!;
        target.set(flipByte(target.get(), at, 1 << (at % 8)));
        const v = verifyBundle(copy);
        expect(v.ok, `${field.name} byte ${at}`).toBe(false);
        expectRejected(v);
        flips++;
      }
    }
    expect(flips).toBeGreaterThan(1500);
  });

  it('fails for random byte changes too', () => {
    const names = hexFields(clone(bundle)).map((f) => f.name);
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.nat(), fc.integer({ min: 1, max: 255 }), (name, pos, mask) => {
        const copy = clone(bundle);
        const field = hexFields(copy).find((f) => f.name === name)!;
        field.set(flipByte(field.get(), pos % (field.get().length / 2), mask));
        expectRejected(verifyBundle(copy));
      }),
      { numRuns: 150 },
    );
  });

  it('fails when any number changes', () => {
    bundle.entries.forEach((_, i) => {
      for (const key of ['index', 'leafCount'] as const) {
        for (const delta of [-1, 1, 2, 1000]) {
          const copy = clone(bundle);
          const proof = copy.entries[i]!.proof;
          proof[key] += delta;
          expectRejected(verifyBundle(copy));
        }
      }
    });
  });

  it('fails when entries are dropped from their evidence, duplicated or reordered wrongly', () => {
    const dup = clone(bundle);
    dup.entries.push(structuredClone(dup.entries[0]!));
    expectRejected(verifyBundle(dup), 'PROOF_INVALID');
    const noPrev = clone(bundle);
    delete noPrev.entries[1]!.prevVoucher;
    expectRejected(verifyBundle(noPrev), 'DECODE_FIELD');
    const swapped = clone(bundle);
    [swapped.entries[0]!.headSignature, swapped.entries[1]!.headSignature] = [
      swapped.entries[1]!.headSignature,
      swapped.entries[0]!.headSignature,
    ];
    expectRejected(verifyBundle(swapped), 'SIG_INVALID');
    const upper = clone(bundle);
    upper.entries[0]!.headSignature = upper.entries[0]!.headSignature.toUpperCase();
    expectRejected(verifyBundle(upper), 'DECODE_FIELD');
    const extra = clone(bundle) as BundleJson & { note?: string };
    extra.note = 'paid';
    expectRejected(verifyBundle(extra), 'DECODE_FIELD');
  });
});

describe('verifyBundle: a hub that signs what the evidence does not support', () => {
  const { inputs } = settledEpoch(3, true);
  const withEntry = (i: number, patch: Partial<SettlementEntry>) =>
    inputs.map((input, k) =>
      k === i ? { ...input, entry: { ...(input.entry as SettlementEntry), ...patch } } : input,
    );
  const entryOf = (i: number) => inputs[i]!.entry as SettlementEntry;

  it('catches an inflated amount, a wrong delta, a wrong span and a wrong head', () => {
    const e = entryOf(1);
    expectRejected(
      verifyBundle(signBundle(withEntry(1, { cumAmount: e.cumAmount + 7n, deltaAmount: e.deltaAmount + 7n })).bundle),
      'PROOF_INVALID',
    );
    expectRejected(
      verifyBundle(signBundle(withEntry(1, { deltaAmount: e.deltaAmount + 1n })).bundle),
      'AMOUNT_PRICE_MISMATCH',
    );
    expectRejected(
      verifyBundle(signBundle(withEntry(1, { deltaUnits: e.deltaUnits - 1n, deltaAmount: e.deltaAmount - 7n })).bundle),
      'PROOF_INVALID',
    );
    expectRejected(verifyBundle(signBundle(withEntry(1, { fromSeq: e.fromSeq + 1n })).bundle), 'PROOF_INVALID');
    expectRejected(verifyBundle(signBundle(withEntry(1, { headHash: new Uint8Array(32) })).bundle), 'BAD_LINK');
    expectRejected(verifyBundle(signBundle(withEntry(1, { prevHeadHash: new Uint8Array(32) })).bundle), 'BAD_LINK');
    expectRejected(verifyBundle(signBundle(withEntry(1, { epoch: 4n })).bundle), 'PROOF_INVALID');
  });

  it('catches a wrong total and a wrong entry count in the signed record', () => {
    const { record } = signBundle(inputs);
    expectRejected(
      verifyBundle(signBundle(inputs, { totalDeltaAmount: record.totalDeltaAmount + 1n }).bundle),
      'PROOF_INVALID',
    );
    expectRejected(verifyBundle(signBundle(inputs, { entryCount: 4 }).bundle), 'PROOF_INVALID');
    expectRejected(verifyBundle(signBundle(inputs, { network: 'other-net' }).bundle), 'WRONG_CHANNEL');
    expectRejected(verifyBundle(signBundle(inputs, { hubKey: device.publicKey }).bundle), 'SIG_INVALID');
  });

  it('catches a first span that claims a previous head', () => {
    const first = settledEpoch(2, false);
    const e = first.inputs[0]!.entry as SettlementEntry;
    const patched = first.inputs.map((input, k) =>
      k === 0 ? { ...input, entry: { ...e, deltaUnits: e.deltaUnits - 1n, deltaAmount: e.deltaAmount - 7n } } : input,
    );
    expectRejected(verifyBundle(signBundle(patched).bundle), 'PROOF_INVALID');
    const withPrev = first.inputs.map((input, k) =>
      k === 0 ? { ...input, prevVoucher: inputs[0]!.prevVoucher! } : input,
    );
    expectRejected(verifyBundle(signBundle(withPrev).bundle), 'DECODE_FIELD');
  });

  it('reports every failing entry, each with its channel', () => {
    const bad = inputs.map((input) => ({ ...input, headSignature: new Uint8Array(64) }));
    const v = verifyBundle(signBundle(bad).bundle);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    const sigs = v.reasons.filter((r) => r.code === 'SIG_INVALID');
    expect(new Set(sigs.map((r) => r.channelId)).size).toBe(3);
  });
});

describe('verifyBundle: garbage', () => {
  it('answers arbitrary JSON values with reasons', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => expectRejected(verifyBundle(json))),
      { numRuns: 300 },
    );
  });

  it('answers arbitrary text with reasons', () => {
    fc.assert(
      fc.property(fc.string(), (text) => expectRejected(verifyBundle(text))),
      { numRuns: 200 },
    );
    expectRejected(verifyBundle('{"format":'), 'DECODE_FIELD');
    for (const v of [undefined, null, 0, [], true, new Uint8Array(3)]) expectRejected(verifyBundle(v));
  });

  it('answers a valid bundle with any node replaced by arbitrary JSON with reasons or a verdict, never an exception', () => {
    const { bundle } = settledEpoch(2, true);
    const paths: string[][] = [];
    const walk = (node: unknown, path: string[]) => {
      paths.push(path);
      if (typeof node === 'object' && node !== null) for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
    };
    walk(bundle, []);
    fc.assert(
      fc.property(fc.constantFrom(...paths.filter((p) => p.length > 0)), fc.jsonValue(), (path, value) => {
        const copy = clone(bundle) as unknown as Record<string, unknown>;
        let node = copy;
        for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
        node[path[path.length - 1]!] = value;
        const v = verifyBundle(copy);
        if (!v.ok) for (const r of v.reasons) expect(Object.hasOwn(REASONS, r.code)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('verifyBundle: versions [P-8.5, P-8.7]', () => {
  const { inputs } = settledEpoch(3, true);
  const reasonsOf = (v: BundleVerdict) => (v.ok ? [] : v.reasons.map((r) => `${r.clause} ${r.code}`));

  /** A forgery version 1 cannot catch: a made-up voucher before the span, with lower totals (so a
   *  bigger delta), its hash put in the entry; the device's signature over the real one is kept. */
  const fabricated = inputs.map((input, k) => {
    if (k !== 1) return input;
    const e = input.entry as SettlementEntry;
    const real = decodeVoucher(input.prevVoucher as Uint8Array);
    if (!real.ok) throw new Error('fixture');
    const fake = { ...real.value, cumUnits: 1n, cumAmount: 7n };
    return {
      ...input,
      prevVoucher: encodeVoucher(fake),
      entry: {
        ...e,
        prevHeadHash: voucherHash(fake),
        deltaUnits: e.cumUnits - fake.cumUnits,
        deltaAmount: e.cumAmount - fake.cumAmount,
      },
    };
  });

  it('builds version 2 by default, whose deltas are device-signed', () => {
    const { bundle } = settledEpoch(3, true);
    expect(bundle.format).toBe('tally-settlement-bundle/2');
    expect(bundle.entries.every((e) => e.prevSignature !== undefined)).toBe(true);
    const v = verifyBundle(bundle);
    expect(v.ok && v.summary.deltas).toBe('device-signed');
    expect(v.ok && v.summary.warnings).toEqual([]);
  });

  it('refuses a version-2 bundle whose previous voucher the device did not sign', () => {
    expect(reasonsOf(verifyBundle(signBundle(fabricated).bundle))).toEqual(['8.5.31 SIG_INVALID']);
    // The real voucher with its real signature verifies: the check is the signature, not the values.
    expect(verifyBundle(signBundle(inputs).bundle).ok).toBe(true);
  });

  it('still verifies version 1, and says its deltas are hub-attested', () => {
    const honest = verifyBundle(signBundle(inputs, {}, 1).bundle);
    expect(honest.ok && honest.summary.version).toBe(1);
    expect(honest.ok && honest.summary.deltas).toBe('hub-attested');
    expect(honest.ok && honest.summary.warnings.join()).toContain('hub-attested');
    // Which is why version 2 exists: the same fabrication passes every version-1 check.
    const fake = verifyBundle(signBundle(fabricated, {}, 1).bundle);
    expect(fake.ok && fake.summary.deltas).toBe('hub-attested');
    // A version-1 bundle of first spans only has nothing to attest.
    const first = verifyBundle(signBundle(settledEpoch(2, false).inputs, {}, 1).bundle);
    expect(first.ok && first.summary.deltas).toBe('device-signed');
  });

  it('holds each version to its own fields', () => {
    const v2 = clone(signBundle(inputs).bundle);
    delete v2.entries[1]!.prevSignature;
    expect(reasonsOf(verifyBundle(v2))).toEqual(['8.5.26 DECODE_FIELD']);
    const v1 = clone(signBundle(inputs, {}, 1).bundle);
    v1.entries[1]!.prevSignature = signBundle(inputs).bundle.entries[1]!.prevSignature!;
    expect(reasonsOf(verifyBundle(v1))).toEqual(['8.5.9 DECODE_FIELD']);
    const unknown = { ...clone(v2), format: 'tally-settlement-bundle/9' };
    expect(reasonsOf(verifyBundle(unknown))).toEqual(['8.5.2 DECODE_VERSION']);
  });
});

describe('bundle version 3: the optional anchor [P-8.5 check 3, P-8.8]', () => {
  const anchor = {
    chainId: '31337',
    contract: `0x${'1'.repeat(40)}`,
    anchorer: `0x${'2'.repeat(40)}`,
    txHash: `0x${'3'.repeat(64)}`,
    blockNumber: '7',
    blockHash: `0x${'4'.repeat(64)}`,
  };
  const v2 = () => structuredClone(settledEpoch(2, true).bundle) as unknown as Record<string, unknown>;
  const checks = (b: unknown) => {
    const v = verifyBundle(b);
    return v.ok ? ['ok'] : v.reasons.map((r) => `${r.clause} ${r.code}`);
  };

  it('verifies with or without an anchor, and reports the anchor it carries', () => {
    const withAnchor = { ...v2(), format: 'tally-settlement-bundle/3', anchor };
    const verdict = verifyBundle(withAnchor);
    expect(verdict.ok && verdict.summary.anchor).toEqual(anchor);
    expect(checks({ ...v2(), format: 'tally-settlement-bundle/3' })).toEqual(['ok']);
  });

  it('refuses an anchor in version 2, and a malformed one in version 3', () => {
    expect(checks({ ...v2(), anchor })).toEqual(['8.5.3 DECODE_FIELD']);
    const bad: Record<string, unknown>[] = [
      { ...anchor, chainId: '0' },
      { ...anchor, chainId: '18446744073709551616' },
      { ...anchor, blockNumber: 7 },
      { ...anchor, txHash: anchor.txHash.toUpperCase() },
      { ...anchor, contract: `0x${'1'.repeat(39)}` },
      { ...anchor, extra: '1' },
      (({ blockHash: _, ...rest }) => rest)(anchor),
    ];
    for (const a of bad)
      expect(checks({ ...v2(), format: 'tally-settlement-bundle/3', anchor: a }), JSON.stringify(a)).toContain(
        '8.5.3 DECODE_FIELD',
      );
    expect(checks({ ...v2(), format: 'tally-settlement-bundle/3', anchor: [] })).toEqual(['8.5.3 DECODE_FIELD']);
  });
});
