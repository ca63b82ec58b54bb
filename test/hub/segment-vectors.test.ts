// The segment vectors of test/vectors/tally-v1-negative.json replayed through a real hub: the
// pipeline, the group commit and a SQLite store, no sockets. The hub holds the vector hub key and
// the vector channels, has accepted seq 1-3, and each case checks what the hub counts and every
// message the device receives, in order [P-5]. A hub built from docs/protocol.md alone must do the
// same.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeChannelRecord,
  decodeControl,
  decodeReceipt,
  hexToBytes,
  topics,
  verifyReceipt,
} from '../../protocol/index.js';
import { initDataDir, openStore } from '../../hub/store/datadir.js';
import { bareCore, GatedPool } from './helpers/bare-core.js';
import { commitTurn } from './helpers/bare-device.js';
import { tempDir } from './helpers/hub.js';
import { NEGATIVE_VECTORS_PATH } from '../../scripts/make-vectors.js';

// The vectors file is untyped JSON read field by field below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const file: Json = JSON.parse(readFileSync(NEGATIVE_VECTORS_PATH, 'utf8'));
const ctx = file.segments.context;
const hubPublic = hexToBytes(file.keys.hub.publicKey);

/** A hub in the state of the vectors' context, with every downlink message logged in order. */
async function vectorHub(dir: string, c: Json, pool: GatedPool | undefined) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(dir, 'hub-key.json'),
    JSON.stringify({ version: 1, publicKey: file.keys.hub.publicKey, secretKey: file.keys.hub.seed }),
    { mode: 0o600 },
  );
  initDataDir(dir, { network: 'tally-test' });
  const store = openStore(dir);
  await store.enrol(
    ctx.channels.map((ch: Json) => {
      const record = decodeChannelRecord(hexToBytes(ch.record));
      if (!record.ok) throw new Error('vector channel record');
      const r = record.value;
      return {
        deviceKey: r.deviceKey,
        atMs: r.openedAtMs,
        channel: {
          channelId: hexToBytes(ch.channelId),
          deviceKey: r.deviceKey,
          record: hexToBytes(ch.record),
          unit: r.unit,
          pricePerUnit: r.pricePerUnit,
          capacity: r.capacity,
          openedAtMs: r.openedAtMs,
          expiresAtMs: r.expiresAtMs,
        },
      };
    }),
  );
  await store.close();
  let now = Number(ctx.hubTimeMs);
  const hub = await bareCore(dir, { network: 'tally-test', now: () => now, reorderWindowMs: 1 }, pool);
  const log: unknown[] = [];
  hub.core.attach({
    seesConnections: true,
    downlink: {
      publishReceipt: (_d, bytes) => {
        const r = decodeReceipt(bytes);
        const valid = r.ok && verifyReceipt(r.value, hubPublic);
        log.push(valid ? { kind: 'receipt', seq: r.value.seq.toString() } : { kind: 'bad receipt' });
      },
      publishControl: (_d, bytes) => {
        const m = decodeControl(bytes, hubPublic);
        if (!m.ok) return void log.push({ kind: 'bad control' });
        const v = m.value;
        if (v.kind === 'reject') log.push({ kind: 'reject', seq: v.seq.toString(), reason: v.reason });
        else if (v.kind === 'resync') log.push({ kind: 'resync', headSeq: v.head.seq.toString(), reason: v.reason });
        else if (v.kind === 'capacity') log.push({ kind: 'capacity', state: v.state });
        else log.push({ kind: v.kind });
      },
    },
  });
  const own = topics.segment(ctx.channels[0].deviceKey);
  for (const wire of ctx.setup) hub.core.pipeline.onMessage(own, hexToBytes(wire));
  await hub.core.pipeline.placed();
  await pool?.release();
  await commitTurn();
  if (c.channelState === 'closed') await hub.core.closeChannel(ctx.channels[0].channelId);
  if (c.hubTimeMs !== undefined) now = Number(c.hubTimeMs);
  log.length = 0;
  return { hub, log };
}

// Signatures checked on the main thread, or by a worker answering later [P-5].
for (const workers of [false, true]) {
  describe(`segment vectors through the hub, signatures ${workers ? 'on a worker' : 'inline'} [P-4.5, P-5]`, () => {
    const tmp = tempDir();
    afterAll(() => tmp.cleanup());

    for (const [i, c] of (file.segments.cases as Json[]).entries()) {
      // A worker answers after the segment was chained: where that changes the replies, the vector
      // says so [P-5.5].
      const expected: Json[] = (workers && c.repliesIfChainedFirst) || c.replies;
      const replies = expected.map((r: Json) => r.kind).join(', ') || 'none';
      it(`${c.name}: counted ${c.counted ?? 'nothing'}, replies ${replies}`, async () => {
        const pool = workers ? new GatedPool() : undefined;
        const { hub, log } = await vectorHub(join(tmp.dir, String(i)), c, pool);
        try {
          hub.core.pipeline.onMessage(c.topic, hexToBytes(c.wire));
          // A segment that overlaps the head waits for a stored voucher before its check is asked.
          await hub.core.pipeline.placed();
          await pool?.release();
          if (c.afterReorderWindow) {
            await new Promise((r) => setTimeout(r, 5));
            hub.core.pipeline.sweep();
          }
          for (let k = 0; k < 3; k++) await commitTurn();
          await hub.core.flush();
          const counted = (await hub.core.ledger.recentRejections({ limit: 10 })).map((r) => r.reason);
          expect(counted).toEqual(c.counted === null ? [] : [c.counted]);
          expect(log).toEqual(expected);
          // Nothing refused moves the committed head; an accepted segment moves it to its receipt.
          const head = (await hub.core.ledger.getChannel(hexToBytes(ctx.channels[0].channelId)))!.head;
          const accepted = c.counted === null ? c.replies.find((r: Json) => r.kind === 'receipt') : undefined;
          expect(head.seq.toString()).toBe(accepted ? accepted.seq : ctx.head.seq);
        } finally {
          await hub.close();
        }
      });
    }
  });
}
