// The hub's database on a full disk (SQLite max_page_count caps the file, as a full volume would):
// no receipt may ever cover more than is committed, the devices are asked to resync, and once
// space returns everything they still hold is accepted exactly once; settlement on a full disk
// fails whole and succeeds later with the same totals.
import type Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeReceipt, type BuiltSegment } from '../../protocol/index.js';
import { bareCore, type BareCore } from '../hub/helpers/bare-core.js';
import { tempDir } from '../hub/helpers/hub.js';
import { BareDevice, commitTurn } from '../hub/helpers/bare-device.js';
import { recorder } from './helpers/record.js';

const rec = recorder('disk-full');

describe('the hub database on a full disk', () => {
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

  /** Every receipt sent so far covers at most what the database holds for its channel. */
  async function receiptsWithinCommitted(): Promise<number> {
    let checked = 0;
    for (const r of hub.receipts) {
      const receipt = decodeReceipt(r.bytes);
      if (!receipt.ok) throw new Error(receipt.code);
      const stored = (await hub.core.ledger.getChannel(receipt.value.channelId))!.head;
      expect(receipt.value.seq).toBeLessThanOrEqual(stored.seq);
      checked++;
    }
    return checked;
  }

  it('sends no receipt without a commit, and recovers everything once space returns', async () => {
    const devices: BareDevice[] = [];
    for (let i = 0; i < 4; i++) devices.push(await BareDevice.enrol(hub, { price: 2n }));
    const signed = new Map<BareDevice, BuiltSegment[]>(devices.map((d) => [d, []]));
    const sendNext = (d: BareDevice) => {
      const s = d.build(64);
      signed.get(d)!.push(s);
      d.send(s);
    };
    // What the agent does on a RESYNC: re-send everything it holds after the hub's head.
    const catchUp = async (d: BareDevice) => {
      const from = (await d.durable()).seq;
      for (const s of signed.get(d)!) if (s.segment.firstSeq > from) d.send(s);
    };
    for (let i = 0; i < 3; i++) {
      devices.forEach(sendNext);
      await commitTurn();
    }
    const pages = Number(db.pragma('page_count', { simple: true }));
    db.pragma(`max_page_count = ${pages}`);

    let failedCommits = 0;
    for (let i = 0; i < 40; i++) {
      const resyncsBefore = hub.controls.filter((c) => c.control.kind === 'resync').length;
      for (const d of devices) {
        signed.get(d)!.push(d.build(64));
        await catchUp(d);
      }
      await commitTurn();
      if (hub.controls.filter((c) => c.control.kind === 'resync').length > resyncsBefore) failedCommits++;
      await receiptsWithinCommitted();
    }
    expect(failedCommits).toBeGreaterThan(0);
    let behind = 0;
    for (const d of devices) if ((await d.durable()).seq < d.head.seq) behind++;
    expect(behind).toBeGreaterThan(0);

    // Settlement on the full disk fails as a whole, or succeeds as a whole: never half an epoch.
    let settleRefused = false;
    try {
      await hub.core.settle();
    } catch {
      settleRefused = true;
    }
    const epochsDuringFull = (await hub.core.listEpochs()).length;

    // Space returns. Each device does what the agent does: re-send from the head in its last RESYNC.
    db.pragma('max_page_count = 1073741823');
    const start = performance.now();
    const anyBehind = async () => {
      for (const d of devices) if ((await d.durable()).seq < d.head.seq) return true;
      return false;
    };
    for (let round = 0; round < 10 && (await anyBehind()); round++) {
      for (const d of devices) await catchUp(d);
      await commitTurn();
    }
    const recoveryMs = Math.round(performance.now() - start);
    let lost = 0n;
    let duplicated = 0n;
    for (const d of devices) {
      const head = await d.durable();
      lost += d.head.cumUnits - head.cumUnits > 0n ? d.head.cumUnits - head.cumUnits : 0n;
      duplicated += head.cumUnits - d.head.cumUnits > 0n ? head.cumUnits - d.head.cumUnits : 0n;
      expect(head.seq).toBe(d.head.seq);
    }
    const receipts = await receiptsWithinCommitted();
    const epoch = await hub.core.settle();
    const stats = await hub.core.stats();
    expect(stats.settledAmount).toBe(stats.acceptedAmount);
    expect(lost).toBe(0n);
    expect(duplicated).toBe(0n);
    rec.record({
      case: 'database on a full disk (max_page_count), then space returns',
      expected:
        'commits fail whole, no receipt beyond the committed head, devices resynced; after space returns nothing lost or doubled, settlement exact',
      observed: `${failedCommits} of 40 commit rounds refused, ${behind} of ${devices.length} devices behind; ${receipts} receipts all within committed heads; settlement on the full disk ${settleRefused ? 'refused' : 'succeeded'} (${epochsDuringFull} epoch(s)); after space returned every device at its signed head, epoch ${epoch?.epoch ?? '-'} settled ${stats.settledAmount} = accepted ${stats.acceptedAmount}`,
      figures: { lost: `${lost}`, duplicated: `${duplicated}`, rejected: failedCommits, recoveryMs },
    });
  });
});
