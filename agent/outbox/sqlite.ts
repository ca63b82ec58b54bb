// The SQLite outbox. One database may hold many devices (the fleet simulator shares one file
// between thousands of agents); every row is keyed by device or by a small per-channel integer so
// a voucher row costs its own fields, not a 32-byte channel id. Statements are prepared once per
// database and shared by every device view over it.
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { formatNanos, NANO, parseNanos } from '../meter/decimal.js';
import type { Head } from '../../protocol/index.js';
import {
  SQLITE_INT_MAX,
  type ChannelState,
  type FlushRecord,
  type MeterHealthRecord,
  type MeterState,
  type NewVoucher,
  type OutboxSnapshot,
  type OutboxStore,
  type OutgoingSegment,
  type StoredChannel,
  type StoredReceipt,
} from './types.js';

type Db = Database.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS agent_device (
  device TEXT PRIMARY KEY,
  meter_baseline TEXT,
  meter_carried TEXT NOT NULL DEFAULT '0',
  channel INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agent_channel (
  ch INTEGER PRIMARY KEY,
  channel_id BLOB NOT NULL UNIQUE,
  device TEXT NOT NULL,
  record BLOB NOT NULL,
  capacity TEXT NOT NULL,
  state TEXT NOT NULL,
  head_seq INTEGER NOT NULL,
  head_hash BLOB NOT NULL,
  head_units TEXT NOT NULL,
  head_amount TEXT NOT NULL,
  receipt BLOB,
  receipt_seq INTEGER,
  receipt_hash BLOB,
  receipt_units TEXT,
  receipt_amount TEXT
);
CREATE TABLE IF NOT EXISTS agent_voucher (
  ch INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  units INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  time INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (ch, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agent_segment (
  ch INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  prev_hash BLOB NOT NULL,
  signature BLOB NOT NULL,
  PRIMARY KEY (ch, last_seq)
) WITHOUT ROWID;
`;

export { SQLITE_INT_MAX };

/**
 * Opens (or creates) an outbox database file for the CLI. WAL with synchronous=FULL: every commit
 * fsyncs the write-ahead log before it returns, so a committed flush survives power loss, and a
 * torn write is rolled back on the next open (SQLite's atomic commit).
 */
export function openOutboxDatabase(path: string, options: { readonly?: boolean } = {}): Db {
  if (options.readonly !== true) {
    // Created 0600 before SQLite would make it 0644 (readable by every local user); an existing
    // one is tightened. SQLite gives its -wal and -shm files the mode of the database.
    closeSync(openSync(path, 'a', 0o600));
    for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
  }
  const db = new Database(path, { readonly: options.readonly === true, fileMustExist: options.readonly === true });
  if (options.readonly !== true) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // The outbox is appended at one end and deleted at the other: a small page cache is enough.
    db.pragma('cache_size = -1024');
  }
  db.pragma('busy_timeout = 5000');
  return db;
}

/** Columns added after the first release: an outbox made by an older agent gains them on open. */
const ADDED_COLUMNS = [{ table: 'agent_device', column: 'meter_health', type: 'TEXT' }] as const;

function migrate(db: Db): void {
  for (const { table, column, type } of ADDED_COLUMNS) {
    const have = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === column);
    if (!have) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
}

function prepare(db: Db) {
  db.exec(SCHEMA);
  migrate(db);
  const big = <T extends Database.Statement>(s: T): T => s.safeIntegers(true) as T;
  return {
    device: big(
      db.prepare('SELECT meter_baseline, meter_carried, meter_health, channel FROM agent_device WHERE device = ?'),
    ),
    setHealth: db.prepare(`INSERT INTO agent_device (device, meter_carried, meter_health) VALUES (?, '0', ?)
      ON CONFLICT (device) DO UPDATE SET meter_health = excluded.meter_health`),
    upsertDevice: db.prepare(`INSERT INTO agent_device (device, meter_baseline, meter_carried, channel)
      VALUES (@device, @baseline, @carried, NULL)
      ON CONFLICT (device) DO UPDATE SET meter_baseline = @baseline, meter_carried = @carried`),
    setCurrent: db.prepare(`INSERT INTO agent_device (device, meter_carried, channel) VALUES (?, '0', ?)
      ON CONFLICT (device) DO UPDATE SET channel = excluded.channel`),
    channelByKey: big(db.prepare('SELECT * FROM agent_channel WHERE ch = ?')),
    channelById: big(db.prepare('SELECT * FROM agent_channel WHERE channel_id = ?')),
    insertChannel: db.prepare(`INSERT INTO agent_channel
      (channel_id, device, record, capacity, state, head_seq, head_hash, head_units, head_amount)
      VALUES (@channelId, @device, @record, @capacity, @state, @seq, @hash, @units, @amount)`),
    setLimits: db.prepare('UPDATE agent_channel SET capacity = ?, state = ? WHERE ch = ?'),
    setHead: db.prepare(`UPDATE agent_channel SET head_seq = @seq, head_hash = @hash, head_units = @units,
      head_amount = @amount WHERE ch = @ch`),
    setReceipt: db.prepare(`UPDATE agent_channel SET receipt = @bytes, receipt_seq = @seq, receipt_hash = @hash,
      receipt_units = @units, receipt_amount = @amount WHERE ch = @ch`),
    insertVoucher: db.prepare(
      'INSERT INTO agent_voucher (ch, seq, units, amount, time, hash) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    insertSegment: db.prepare(
      'INSERT INTO agent_segment (ch, last_seq, first_seq, prev_hash, signature) VALUES (?, ?, ?, ?, ?)',
    ),
    segmentsAfter: big(
      db.prepare(`SELECT last_seq, first_seq, prev_hash, signature FROM agent_segment
      WHERE ch = ? AND last_seq > ? ORDER BY last_seq LIMIT ?`),
    ),
    vouchersBetween: big(
      db.prepare(`SELECT seq, units, amount, time FROM agent_voucher
      WHERE ch = ? AND seq >= ? AND seq <= ? ORDER BY seq`),
    ),
    voucherAt: big(db.prepare('SELECT seq, units, amount, time, hash FROM agent_voucher WHERE ch = ? AND seq = ?')),
    deleteVouchers: db.prepare('DELETE FROM agent_voucher WHERE ch = ? AND seq <= ?'),
    deleteSegments: db.prepare('DELETE FROM agent_segment WHERE ch = ? AND last_seq <= ?'),
    countVouchers: db.prepare('SELECT COUNT(*) AS n FROM agent_voucher WHERE ch = ?'),
    countSegments: db.prepare('SELECT COUNT(*) AS n FROM agent_segment WHERE ch = ?'),
  };
}
type Statements = ReturnType<typeof prepare>;
const statementCache = new WeakMap<Db, Statements>();

interface ChannelRow {
  ch: bigint;
  channel_id: Buffer;
  device: string;
  record: Buffer;
  capacity: string;
  state: ChannelState;
  head_seq: bigint;
  head_hash: Buffer;
  head_units: string;
  head_amount: string;
  receipt: Buffer | null;
  receipt_seq: bigint | null;
  receipt_hash: Buffer | null;
  receipt_units: string | null;
  receipt_amount: string | null;
}

interface DeviceRow {
  meter_baseline: string | null;
  meter_carried: string;
  meter_health: string | null;
  channel: bigint | null;
}

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** An outbox view for one device over an open database (which the caller owns and closes). */
export function openSqliteOutbox(db: Db, deviceHex: string): OutboxStore {
  let st = statementCache.get(db);
  if (st === undefined) {
    st = prepare(db);
    statementCache.set(db, st);
  }
  const s = st;
  // ch keys of this device's channels, so hot paths need not look the 32-byte id up each time.
  const keys = new Map<string, bigint>();
  const keyOf = (channelId: Uint8Array): bigint => {
    const hex = Buffer.from(channelId).toString('hex');
    let ch = keys.get(hex);
    if (ch === undefined) {
      const row = s.channelById.get(channelId) as ChannelRow | undefined;
      if (row === undefined || row.device !== deviceHex)
        throw new Error(`unknown channel ${hex} for device ${deviceHex}`);
      ch = row.ch;
      keys.set(hex, ch);
    }
    return ch;
  };
  const channelOf = (row: ChannelRow): StoredChannel => ({
    channelId: u8(row.channel_id),
    record: u8(row.record),
    capacity: BigInt(row.capacity),
    state: row.state,
    head: {
      seq: row.head_seq,
      hash: u8(row.head_hash),
      cumUnits: BigInt(row.head_units),
      cumAmount: BigInt(row.head_amount),
    },
  });
  const receiptOf = (row: ChannelRow): StoredReceipt | undefined =>
    row.receipt === null || row.receipt_seq === null || row.receipt_hash === null
      ? undefined
      : {
          channelId: u8(row.channel_id),
          seq: row.receipt_seq,
          headHash: u8(row.receipt_hash),
          cumUnits: BigInt(row.receipt_units ?? '0'),
          cumAmount: BigInt(row.receipt_amount ?? '0'),
          bytes: u8(row.receipt),
        };
  // Meter values are stored as exact decimal text: "1234" for a whole-number meter (as older
  // agents wrote them), "1234.567" when a fractional reading left billionths of a unit.
  const meterOf = (row: DeviceRow | undefined): MeterState => {
    if (row === undefined) return { baseline: undefined, carried: 0n };
    const carried = parseNanos(row.meter_carried);
    const baseline = row.meter_baseline === null ? undefined : parseNanos(row.meter_baseline);
    return {
      baseline: baseline === undefined ? undefined : baseline / NANO,
      carried: carried / NANO,
      ...(baseline !== undefined && baseline % NANO !== 0n ? { baselineNanos: baseline % NANO } : {}),
      ...(carried % NANO !== 0n ? { carriedNanos: carried % NANO } : {}),
    };
  };
  const healthOf = (row: DeviceRow | undefined): MeterHealthRecord | undefined => {
    if (row?.meter_health == null) return undefined;
    try {
      return JSON.parse(row.meter_health) as MeterHealthRecord;
    } catch {
      return undefined; // a damaged status line must not stop the agent
    }
  };
  const writeMeter = (m: MeterState): void => {
    s.upsertDevice.run({
      device: deviceHex,
      baseline: m.baseline === undefined ? null : formatNanos(m.baseline * NANO + (m.baselineNanos ?? 0n)),
      carried: formatNanos(m.carried * NANO + (m.carriedNanos ?? 0n)),
    });
  };
  const writeHead = (ch: bigint, head: Head): void => {
    s.setHead.run({
      ch,
      seq: head.seq,
      hash: head.hash,
      units: head.cumUnits.toString(),
      amount: head.cumAmount.toString(),
    });
  };

  const commitTx = db.transaction((f: FlushRecord) => {
    const ch = keyOf(f.channelId);
    for (const v of f.vouchers) {
      if (v.cumAmount > SQLITE_INT_MAX || v.cumUnits > SQLITE_INT_MAX)
        throw new RangeError('voucher value beyond 2^63-1');
      s.insertVoucher.run(ch, v.seq, v.cumUnits, v.cumAmount, v.deviceTimeMs, v.hash);
    }
    for (const g of f.segments) s.insertSegment.run(ch, g.lastSeq, g.firstSeq, g.prevHash, g.signature);
    writeHead(ch, f.head);
    writeMeter(f.meter);
  });
  const receiptTx = db.transaction((r: StoredReceipt) => {
    const ch = keyOf(r.channelId);
    s.setReceipt.run({
      ch,
      bytes: r.bytes,
      seq: r.seq,
      hash: r.headHash,
      units: r.cumUnits.toString(),
      amount: r.cumAmount.toString(),
    });
    s.deleteVouchers.run(ch, r.seq);
    s.deleteSegments.run(ch, r.seq);
  });
  const saveChannelTx = db.transaction((c: Parameters<OutboxStore['saveChannel']>[0], head: Head): StoredChannel => {
    let row = s.channelById.get(c.channelId) as ChannelRow | undefined;
    if (row !== undefined && row.device !== deviceHex) throw new Error('channel belongs to another device');
    if (row === undefined) {
      s.insertChannel.run({
        channelId: c.channelId,
        device: deviceHex,
        record: c.record,
        capacity: c.capacity.toString(),
        state: c.state,
        seq: head.seq,
        hash: head.hash,
        units: head.cumUnits.toString(),
        amount: head.cumAmount.toString(),
      });
    } else {
      s.setLimits.run(c.capacity.toString(), c.state, row.ch);
    }
    row = s.channelById.get(c.channelId) as ChannelRow;
    s.setCurrent.run(deviceHex, row.ch);
    return channelOf(row);
  });
  const adoptTx = db.transaction((channelId: Uint8Array, head: Head) => {
    const ch = keyOf(channelId);
    s.deleteVouchers.run(ch, head.seq);
    s.deleteSegments.run(ch, head.seq);
    writeHead(ch, head);
  });

  const hashAt = (channelId: Uint8Array, seq: bigint): Uint8Array | undefined => {
    if (seq === 0n) return channelId;
    const ch = keyOf(channelId);
    const v = s.voucherAt.get(ch, seq) as { hash: Buffer } | undefined;
    if (v !== undefined) return u8(v.hash);
    const row = s.channelByKey.get(ch) as ChannelRow;
    if (row.receipt_seq === seq && row.receipt_hash !== null) return u8(row.receipt_hash);
    if (row.head_seq === seq) return u8(row.head_hash);
    return undefined;
  };

  return {
    deviceHex,
    load(): OutboxSnapshot {
      const dev = s.device.get(deviceHex) as DeviceRow | undefined;
      const row = dev?.channel == null ? undefined : (s.channelByKey.get(dev.channel) as ChannelRow | undefined);
      const health = healthOf(dev);
      return {
        meter: meterOf(dev),
        ...(health === undefined ? {} : { meterHealth: health }),
        channel: row === undefined ? undefined : channelOf(row),
        receipt: row === undefined ? undefined : receiptOf(row),
      };
    },
    saveChannel: (c, head) => saveChannelTx(c, head),
    setChannelLimits(channelId, capacity, state) {
      s.setLimits.run(capacity.toString(), state, keyOf(channelId));
    },
    adoptHead: (channelId, head) => adoptTx(channelId, head),
    saveMeter: writeMeter,
    saveMeterHealth(health) {
      s.setHealth.run(deviceHex, JSON.stringify(health));
    },
    commit: (f) => commitTx(f),
    segmentsAfter(channelId, afterSeq, limit): OutgoingSegment[] {
      const ch = keyOf(channelId);
      const rows = s.segmentsAfter.all(ch, afterSeq, limit) as {
        last_seq: bigint;
        first_seq: bigint;
        prev_hash: Buffer;
        signature: Buffer;
      }[];
      const out: OutgoingSegment[] = [];
      for (const g of rows) {
        const first = g.first_seq > afterSeq ? g.first_seq : afterSeq + 1n;
        const prevHash = first === g.first_seq ? u8(g.prev_hash) : hashAt(channelId, first - 1n);
        if (prevHash === undefined) break; // the link before this tail is gone: nothing valid to send
        const vs = s.vouchersBetween.all(ch, first, g.last_seq) as {
          seq: bigint;
          units: bigint;
          amount: bigint;
          time: bigint;
        }[];
        if (vs.length !== Number(g.last_seq - first + 1n)) break; // incomplete rows: never send a broken chain
        out.push({
          channelId,
          firstSeq: first,
          lastSeq: g.last_seq,
          prevHash,
          signature: u8(g.signature),
          vouchers: vs.map((v) => ({ cumUnits: v.units, cumAmount: v.amount, deviceTimeMs: v.time })),
        });
      }
      return out;
    },
    hashAt,
    voucherAt(channelId, seq): NewVoucher | undefined {
      const v = s.voucherAt.get(keyOf(channelId), seq) as
        { seq: bigint; units: bigint; amount: bigint; time: bigint; hash: Buffer } | undefined;
      return v === undefined
        ? undefined
        : { seq: v.seq, cumUnits: v.units, cumAmount: v.amount, deviceTimeMs: v.time, hash: u8(v.hash) };
    },
    applyReceipt: (r) => receiptTx(r),
    depth(channelId) {
      const ch = keyOf(channelId);
      return {
        vouchers: (s.countVouchers.get(ch) as { n: number }).n,
        segments: (s.countSegments.get(ch) as { n: number }).n,
      };
    },
  };
}
