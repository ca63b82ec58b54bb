// The drain sends committed segments in seq order. Segments handed over right after their commit
// are sent from memory; these tests hold it to sending exactly what the outbox would have given,
// and to reading the outbox whenever memory does not continue where the drain stands.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildFlush } from '../../agent/chain.js';
import { systemClock } from '../../agent/clock.js';
import { Drain } from '../../agent/drain.js';
import { openOutboxDatabase, openSqliteOutbox } from '../../agent/outbox/sqlite.js';
import type { OutboxStore } from '../../agent/outbox/types.js';
import { encodeSegment, generateKeyPair, genesisHead, toHex, type Head } from '../../protocol/index.js';

const kp = generateKeyPair();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(window = 4) {
  const dir = mkdtempSync(join(tmpdir(), 'tally-drain-'));
  dirs.push(dir);
  const real = openSqliteOutbox(openOutboxDatabase(join(dir, 'outbox.db')), toHex(kp.publicKey));
  let reads = 0;
  const store: OutboxStore = {
    ...real,
    segmentsAfter(channelId, afterSeq, limit) {
      reads++;
      return real.segmentsAfter(channelId, afterSeq, limit);
    },
  };
  const sent: Uint8Array[] = [];
  let up = true;
  let acked = 0n;
  const drain = new Drain({
    store,
    window,
    ackTimeoutMs: 60_000,
    clock: systemClock,
    send: (bytes) => {
      if (!up) return false;
      sent.push(bytes);
      return true;
    },
    ackedSeq: () => acked,
    onTimeout: () => undefined,
    onError: (m) => {
      throw new Error(m);
    },
  });
  let channels = 0;
  const openChannel = () => {
    channels++;
    const channelId = new Uint8Array(kp.publicKey.map((b, i) => b ^ (i + channels)));
    store.saveChannel(
      { channelId, record: new Uint8Array(150), capacity: 1_000_000n, state: 'open' },
      genesisHead(channelId),
    );
    return channelId;
  };
  /** Commits `units` vouchers in segments of `batch`, as Production does, and hands them over. */
  const commit = (channelId: Uint8Array, head: Head, units: number, batch = 4): Head => {
    const built = buildFlush({
      channelId,
      head,
      units,
      pricePerUnit: 2n,
      batch,
      deviceTimeMs: 1_700_000_000_000n,
      secretKey: kp.secretKey,
      meter: { baseline: head.cumUnits + BigInt(units), carried: 0n },
    });
    store.commit(built.record);
    drain.committed(built.segments);
    return built.record.head;
  };
  /** What the outbox holds after `afterSeq`, encoded as it goes on the wire. */
  const fromOutbox = (channelId: Uint8Array, afterSeq: bigint) =>
    real.segmentsAfter(channelId, afterSeq, 1_000).map((s) => toHex(encodeSegment(s)));
  const hex = (bs: Uint8Array[]) => bs.map(toHex);
  return {
    drain,
    sent,
    commit,
    openChannel,
    fromOutbox,
    hex,
    reads: () => reads,
    setUp: (v: boolean) => (up = v),
    ack: (seq: bigint) => {
      acked = seq;
      drain.acked(seq);
    },
  };
}

describe('drain', () => {
  it('sends a segment right after its commit without reading it back, byte for byte what the outbox holds', () => {
    const t = setup();
    const ch = t.openChannel();
    let head = t.commit(ch, genesisHead(ch), 10); // segments of 4, 4, 2
    t.drain.pump(ch, head.seq);
    expect(t.reads()).toBe(0);
    expect(t.hex(t.sent)).toEqual(t.fromOutbox(ch, 0n));
    t.ack(head.seq);
    head = t.commit(ch, head, 3);
    t.drain.pump(ch, head.seq);
    expect(t.reads()).toBe(0);
    expect(t.hex(t.sent)).toEqual(t.fromOutbox(ch, 0n));
  });

  it('fills only the window from memory, and sends the rest after a receipt, in order', () => {
    const t = setup(2);
    const ch = t.openChannel();
    const head = t.commit(ch, genesisHead(ch), 12); // three segments, window of two
    t.drain.pump(ch, head.seq);
    expect(t.sent).toHaveLength(2);
    t.ack(4n);
    t.drain.pump(ch, head.seq);
    expect(t.hex(t.sent)).toEqual(t.fromOutbox(ch, 0n));
  });

  it('sends the same again after a rewind (a new connection), and reads the outbox when memory was dropped while the link was down', () => {
    const t = setup(2);
    const ch = t.openChannel();
    let head = t.commit(ch, genesisHead(ch), 4);
    t.drain.pump(ch, head.seq);
    t.drain.rewind(0n); // reconnected: everything unacknowledged goes again
    t.drain.pump(ch, head.seq);
    expect(t.hex(t.sent)).toEqual([...t.fromOutbox(ch, 0n), ...t.fromOutbox(ch, 0n)]);
    const readsBefore = t.reads();

    t.ack(4n);
    t.setUp(false);
    for (let i = 0; i < 5; i++) head = t.commit(ch, head, 4); // more than the window: memory keeps two
    t.drain.pump(ch, head.seq); // link down: nothing goes
    t.setUp(true);
    t.drain.rewind(4n);
    const before = t.sent.length;
    t.drain.pump(ch, head.seq);
    t.ack(12n);
    t.drain.pump(ch, head.seq);
    t.ack(20n);
    t.drain.pump(ch, head.seq);
    expect(t.hex(t.sent.slice(before))).toEqual(t.fromOutbox(ch, 4n));
    expect(t.reads()).toBeGreaterThan(readsBefore);
  });

  it('never sends a segment held in memory for another channel', () => {
    const t = setup();
    const a = t.openChannel();
    t.commit(a, genesisHead(a), 4);
    const b = t.openChannel();
    const head = t.commit(b, genesisHead(b), 4);
    t.drain.rewind(0n);
    // Memory holds a's segment 1-4 first; the drain is on b, so it must not start from it.
    t.drain.pump(b, head.seq);
    expect(t.hex(t.sent)).toEqual(t.fromOutbox(b, 0n));
  });
});
