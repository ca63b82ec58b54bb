// Negative vectors [P-4.5, P-8.5, P-8.6]: test/vectors/tally-v1-negative.json holds invalid bundles,
// series of bundles and segments, each with what a conforming verifier or hub gives. This test
// fails when the code drifts from the file, and checks the file's verdicts with protocol/ (the hub
// replays the segments in test/hub/segment-vectors.test.ts, and `tally-hub verify` the bundles in
// test/hub/verify-vectors.test.ts).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NEGATIVE_VECTORS_PATH, negativeVectorsJson } from '../../scripts/make-vectors.js';
import {
  backends,
  decodeSegment,
  hexToBytes,
  verifyBundle,
  verifyBundleSeries,
  verifySegment,
  type BundleReason,
} from '../../protocol/index.js';

// The vectors file is untyped JSON read field by field by the assertions below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const file: Json = JSON.parse(readFileSync(NEGATIVE_VECTORS_PATH, 'utf8'));
const fresh: Json = JSON.parse(negativeVectorsJson());
const named = (reasons: BundleReason[]) => reasons.map((r) => `${r.clause} ${r.code}`);

describe('negative vectors: the code still produces the committed file', () => {
  for (const section of Object.keys(fresh)) it(section, () => expect(file[section]).toEqual(fresh[section]));
  it('has the same text', () => expect(readFileSync(NEGATIVE_VECTORS_PATH, 'utf8')).toBe(negativeVectorsJson()));
});

describe('negative vectors: bundles [P-8.5]', () => {
  const hubKey = hexToBytes(file.keys.hub.publicKey);

  it('covers each dishonest-hub case the spec names', () => {
    const names = file.bundles.map((c: Json) => c.name);
    for (const n of [
      'entry-above-signed-head',
      'made-up-channel-100x-price',
      'channel-billed-twice',
      'previous-voucher-inside-settled-span',
      'fabricated-previous-voucher',
    ])
      expect(names).toContain(n);
  });

  for (const c of file.bundles as Json[]) {
    it(`${c.name}: ${c.reason}`, () => {
      expect(c.reason).toBe(c.reasons[0]);
      for (const backend of backends) {
        const v = verifyBundle(c.bundle, { hubKey, backend });
        expect(v.ok).toBe(false);
        if (!v.ok) expect(named(v.reasons)).toEqual(c.reasons);
      }
    });
  }

  it('every dishonest bundle is signed by the vector hub: the epoch signature holds unless the case alters it', () => {
    for (const c of file.bundles as Json[]) {
      const v = verifyBundle(c.bundle, { hubKey });
      const epochBroken = !v.ok && v.reasons.some((r) => r.clause === '8.5.7');
      expect(epochBroken, c.name).toBe(c.name === 'record-altered');
    }
  });
});

describe('negative vectors: series of bundles [P-8.6]', () => {
  for (const c of file.series as Json[]) {
    it(`${c.name}: ${c.reason}`, () => {
      for (const b of c.bundles) expect(verifyBundle(b).ok).toBe(true);
      const v = verifyBundleSeries(c.bundles);
      expect(v.ok).toBe(false);
      if (!v.ok) expect(named(v.reasons)).toEqual(c.reasons);
    });
  }

  it('accepts the honest series: the vector channel billed seq 1-70 once', () => {
    const v = verifyBundleSeries(file.accepted.series.bundles);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    const a = v.summary.channels.find((c) => c.toSeq === 70n)!;
    expect(a).toMatchObject({ fromSeq: 1n, fromGenesis: true });
    expect(a.epochs).toEqual([1n, 2n, 3n]);
  });

  it('accepts the fabricated previous voucher in version 1, saying its deltas are hub-attested', () => {
    const c = file.accepted.v1FabricatedPreviousVoucher;
    const v = verifyBundle(c.bundle);
    expect(v.ok && v.summary.deltas).toBe(c.deltas);
  });
});

describe('negative vectors: segments [P-4.5]', () => {
  const ctx = file.segments.context;
  const channel = {
    channelId: hexToBytes(ctx.channels[0].channelId),
    deviceKey: hexToBytes(ctx.channels[0].deviceKey),
    pricePerUnit: 25n,
    capacity: 1_000_000n,
  };
  const head = {
    seq: BigInt(ctx.head.seq),
    hash: hexToBytes(ctx.head.hash),
    cumUnits: BigInt(ctx.head.cumUnits),
    cumAmount: BigInt(ctx.head.cumAmount),
  };

  for (const c of file.segments.cases as Json[]) {
    it(`${c.name}: ${c.counted ?? 'accepted'}`, () => {
      const decoded = decodeSegment(hexToBytes(c.wire));
      if (c.clause === '6.5') {
        expect(decoded.ok ? 'decodes' : decoded.code).toBe(c.counted);
        expect(c.replies).toEqual([]);
        return;
      }
      expect(decoded.ok).toBe(true);
      if (!decoded.ok || c.verify === undefined) return;
      // Each invalid segment has one defect, so every backend and any order of checks agree.
      for (const backend of backends) {
        const v = verifySegment(decoded.value, head, channel, backend);
        expect(v.ok ? 'ok' : v.code).toBe(c.verify);
      }
    });
  }
});
