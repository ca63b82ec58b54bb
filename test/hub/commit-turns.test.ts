// A segment that arrives alone at an idle hub is committed once. Its signature is checked in the
// pool's own turn; the group commit's turn used to come first, find nothing confirmed and still
// run a transaction with nothing in it, so a quiet hub made two commits per segment.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SignaturePool } from '../../hub/ingest/signature-pool.js';
import { bareCore, type BareCore } from './helpers/bare-core.js';
import { BareDevice } from './helpers/bare-device.js';
import { tempDir } from './helpers/hub.js';

let tmp: ReturnType<typeof tempDir>;
let hub: BareCore;
let pool: SignaturePool;
beforeEach(async () => {
  tmp = tempDir();
  pool = new SignaturePool(1);
  hub = await bareCore(tmp.dir, {}, pool);
});
afterEach(async () => {
  await hub.close();
  await pool.close();
  tmp.cleanup();
});

const commits = (h: BareCore) => h.core.metrics.groupCommits();

it('commits a lone segment once, with no empty transaction before its signature is confirmed', async () => {
  const d = await BareDevice.enrol(hub);
  const before = await commits(hub);
  for (let i = 0; i < 5; i++) {
    d.send(d.build(10));
    const want = BigInt((i + 1) * 10);
    while ((await d.durable()).seq !== want) await new Promise((r) => setTimeout(r, 5));
  }
  expect(pool.checkedInline).toBe(5); // the path a quiet hub takes
  expect(hub.receipts).toHaveLength(5);
  expect((await commits(hub)) - before).toBe(5);
});
