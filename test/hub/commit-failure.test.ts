// A group commit the database refuses (here: a full disk, SQLite max_page_count) rolls back the
// channels it held and asks their devices to resync. What it had gathered besides (rejection rows,
// equivocation evidence) is not the devices' to re-send: it must wait for the next commit rather
// than vanish with the failed one.
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex, topics } from '../../protocol/index.js';
import { bareCore, type BareCore } from './helpers/bare-core.js';
import { BareDevice, commitTurn, rejectionCounts } from './helpers/bare-device.js';
import { tempDir } from './helpers/hub.js';

describe('a group commit the database refuses', () => {
  let tmp: ReturnType<typeof tempDir>;
  let hub: BareCore;
  let db: Database.Database;
  beforeEach(async () => {
    tmp = tempDir();
    hub = await bareCore(tmp.dir);
    db = hub.db;
  });
  afterEach(async () => {
    await hub.close();
    tmp.cleanup();
  });

  it('keeps its rejection rows and equivocation evidence for the next commit', async () => {
    const d = await BareDevice.enrol(hub);
    const start = d.head;
    d.send(d.build(4));
    await commitTurn();
    const clone = d.build(4, 2n, { prev: start, advance: false });
    db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`);
    // While the disk is full: a big segment that cannot be stored, a clone, and garbage.
    const big = d.build(1000);
    d.send(big);
    d.send(clone);
    for (let i = 0; i < 50; i++)
      hub.core.pipeline.onMessage(topics.segment(toHex(d.key.publicKey)), new Uint8Array([1, 2, 3]));
    await commitTurn();
    expect((await hub.core.ledger.getChannel(d.channelId))!.head.seq).toBe(4n); // the commit did fail
    db.pragma('max_page_count = 1073741823');
    d.send(big); // the device re-sends after its RESYNC
    await commitTurn();

    expect((await hub.core.ledger.getChannel(d.channelId))!.head.seq).toBe(1004n);
    expect(await hub.core.ledger.listEquivocations(d.channelId)).toHaveLength(1);
    expect((await hub.core.ledger.getChannel(d.channelId))!.equivocated).toBe(true);
    const counts = await rejectionCounts(hub);
    expect(counts.DECODE_VERSION).toBe(50n); // type 1, version 2: refused at the version byte
    expect(counts.EQUIVOCATION).toBe(1n);
  });
});
