// Protocol hot paths: `npx tsx bench/protocol.ts` (or `npm run bench protocol`). Prints ops/s and
// microseconds per op. Per-voucher rows divide a 64-voucher segment's time by 64: the figure that
// bounds how many units a hub core can take in. Target: verifySegment under 4 us per voucher with the
// node backend. Each row runs for about a second after a warm-up, so the whole run takes ~20 s.

import {
  backends,
  buildSegment,
  channelIdOf,
  decodeReceipt,
  decodeSegment,
  encodeChannelRecord,
  encodeReceipt,
  encodeSegment,
  encodeVoucher,
  genesisHead,
  keyPairFromSeed,
  makeReceipt,
  nodeBackend,
  verifySegment,
  voucherHash,
  type Ed25519Backend,
  type VoucherFields,
} from '../protocol/index.js';

const SEGMENT = 64;
const RUN_MS = 1000;
const WARMUP_MS = 200;

interface Row {
  name: string;
  opsPerSec: number;
  usPerOp: number;
}

/** Runs `fn` in growing batches for RUN_MS after a warm-up; `per` ops are done by one call. */
function measure(name: string, fn: () => unknown, per = 1): Row {
  const until = (ms: number) => {
    let calls = 0;
    let batch = 1;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < ms) {
      for (let i = 0; i < batch; i++) fn();
      calls += batch;
      batch = Math.min(batch * 2, 4096);
      elapsed = Number(process.hrtime.bigint() - start) / 1e6;
    }
    return { calls, elapsed };
  };
  until(WARMUP_MS);
  const { calls, elapsed } = until(RUN_MS);
  const ops = calls * per;
  return { name, opsPerSec: (ops / elapsed) * 1000, usPerOp: (elapsed * 1000) / ops };
}

const hub = keyPairFromSeed(new Uint8Array(32).fill(1));
const device = keyPairFromSeed(new Uint8Array(32).fill(2));
const record = {
  network: 'bench',
  hubKey: hub.publicKey,
  deviceKey: device.publicKey,
  unit: 'Wh',
  pricePerUnit: 25n,
  capacity: 1n << 60n,
  openedAtMs: 1_700_000_000_000n,
  expiresAtMs: 0n,
  nonce: 1n,
};
const channelId = channelIdOf(encodeChannelRecord(record));
const genesis = genesisHead(channelId);
const vouchers: VoucherFields[] = Array.from({ length: SEGMENT }, (_, j) => ({
  cumUnits: BigInt(j + 1) * 3n,
  cumAmount: BigInt(j + 1) * 3n * 25n,
  deviceTimeMs: 1_700_000_000_000n + BigInt(j) * 1000n,
}));
const built = buildSegment({ channelId, prev: genesis, vouchers, secretKey: device.secretKey });
const wire = encodeSegment(built.segment);
const ctx = { channelId, deviceKey: device.publicKey, pricePerUnit: 25n, capacity: record.capacity };
const voucherBytes = encodeVoucher({ channelId, seq: 1n, ...vouchers[0]!, prevHash: channelId });
const receipt = makeReceipt(
  {
    channelId,
    seq: 64n,
    headHash: built.head.hash,
    cumUnits: built.head.cumUnits,
    cumAmount: built.head.cumAmount,
    hubTimeMs: 1n,
  },
  hub.secretKey,
);
const message = new Uint8Array(49).fill(7);

function mustVerify(backend: Ed25519Backend): void {
  const r = verifySegment(built.segment, genesis, ctx, backend);
  if (!r.ok) throw new Error(`benchmark segment does not verify: ${r.code}`);
}

const rows: Row[] = [];
for (const backend of backends) {
  const signature = backend.sign(message, device.secretKey);
  rows.push(measure(`ed25519 sign (${backend.name})`, () => backend.sign(message, device.secretKey)));
  rows.push(measure(`ed25519 verify (${backend.name})`, () => backend.verify(signature, message, device.publicKey)));
}
for (const backend of backends) {
  mustVerify(backend);
  rows.push(
    measure(
      `verifySegment per voucher, 64/segment (${backend.name})`,
      () => verifySegment(built.segment, genesis, ctx, backend),
      SEGMENT,
    ),
  );
}
rows.push(
  measure(
    'decode + verifySegment per voucher (node)',
    () => {
      const s = decodeSegment(wire);
      if (s.ok) verifySegment(s.value, genesis, ctx, nodeBackend);
    },
    SEGMENT,
  ),
);
rows.push(measure('voucherHash (96-byte voucher)', () => voucherHash(voucherBytes)));
rows.push(
  measure(
    'buildSegment per voucher, 64/segment (node)',
    () => buildSegment({ channelId, prev: genesis, vouchers, secretKey: device.secretKey }),
    SEGMENT,
  ),
);
rows.push(measure('encodeSegment per voucher', () => encodeSegment(built.segment), SEGMENT));
rows.push(measure('decodeSegment per voucher', () => decodeSegment(wire), SEGMENT));
rows.push(measure('receipt encode + decode', () => decodeReceipt(encodeReceipt(receipt))));

const width = Math.max(...rows.map((r) => r.name.length));
console.log(`${'operation'.padEnd(width)}  ${'ops/s'.padStart(12)}  ${'us/op'.padStart(9)}`);
console.log(`${'-'.repeat(width)}  ${'-'.repeat(12)}  ${'-'.repeat(9)}`);
for (const r of rows) {
  const ops = Math.round(r.opsPerSec).toLocaleString('en-US');
  console.log(`${r.name.padEnd(width)}  ${ops.padStart(12)}  ${r.usPerOp.toFixed(3).padStart(9)}`);
}
console.log(
  `\nnode ${process.version}, ${process.platform}/${process.arch}; target: verifySegment (node) < 4 us per voucher`,
);
