// What `tally-agent status` shows, read from the outbox alone (the agent may be running: WAL lets
// a reader see the last committed state without blocking it). Money and units stay bigint; the
// JSON form prints them as decimal strings.
import { decodeChannelRecord, decodeReceipt, toHex } from '../protocol/index.js';
import { formatNanos, NANO } from './meter/decimal.js';
import type { MeterHealthRecord, OutboxStore } from './outbox/types.js';

export interface StatusReport {
  deviceKey: string;
  channel?: {
    channelId: string;
    network: string;
    unit: string;
    pricePerUnit: bigint;
    capacity: bigint;
    state: string;
    headSeq: bigint;
    cumUnits: bigint;
    cumAmount: bigint;
    balanceLeft: bigint;
  };
  outbox: { vouchers: number; segments: number };
  meter: {
    baseline: bigint | undefined;
    heldUnits: bigint;
    /** The last reading and the carried sub-unit remainder, exact (decimal text). */
    exactBaseline: string | undefined;
    remainder: string;
    /** Stale or frozen, as the agent last reported it (absent: never reported). */
    health?: MeterHealthRecord;
  };
  lastReceipt?: { seq: bigint; cumUnits: bigint; cumAmount: bigint; hubTimeMs: bigint; hex: string };
}

export function readStatus(store: OutboxStore): StatusReport {
  const snap = store.load();
  const report: StatusReport = {
    deviceKey: store.deviceHex,
    outbox: { vouchers: 0, segments: 0 },
    meter: {
      baseline: snap.meter.baseline,
      heldUnits: snap.meter.carried,
      exactBaseline:
        snap.meter.baseline === undefined
          ? undefined
          : formatNanos(snap.meter.baseline * NANO + (snap.meter.baselineNanos ?? 0n)),
      remainder: formatNanos(snap.meter.carriedNanos ?? 0n),
      ...(snap.meterHealth === undefined ? {} : { health: snap.meterHealth }),
    },
  };
  const c = snap.channel;
  if (c !== undefined) {
    const record = decodeChannelRecord(c.record);
    report.channel = {
      channelId: toHex(c.channelId),
      network: record.ok ? record.value.network : '?',
      unit: record.ok ? record.value.unit : '?',
      pricePerUnit: record.ok ? record.value.pricePerUnit : 0n,
      capacity: c.capacity,
      state: c.state,
      headSeq: c.head.seq,
      cumUnits: c.head.cumUnits,
      cumAmount: c.head.cumAmount,
      balanceLeft: c.capacity > c.head.cumAmount ? c.capacity - c.head.cumAmount : 0n,
    };
    report.outbox = store.depth(c.channelId);
  }
  if (snap.receipt !== undefined) {
    const r = decodeReceipt(snap.receipt.bytes);
    report.lastReceipt = {
      seq: snap.receipt.seq,
      cumUnits: snap.receipt.cumUnits,
      cumAmount: snap.receipt.cumAmount,
      hubTimeMs: r.ok ? r.value.hubTimeMs : 0n,
      hex: toHex(snap.receipt.bytes),
    };
  }
  return report;
}

/** JSON with every bigint as a decimal string. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

export function formatStatus(s: StatusReport): string {
  const lines = [`device      ${s.deviceKey}`];
  if (s.channel === undefined) lines.push('channel     none yet (waiting for the hub grant)');
  else {
    const c = s.channel;
    lines.push(
      `channel     ${c.channelId} (${c.network}, ${c.state})`,
      `price       ${c.pricePerUnit} per ${c.unit}`,
      `signed      ${c.cumUnits} ${c.unit}, ${c.cumAmount} of capacity ${c.capacity}; balance left ${c.balanceLeft}`,
      `head seq    ${c.headSeq}`,
    );
  }
  lines.push(`outbox      ${s.outbox.vouchers} vouchers in ${s.outbox.segments} segments awaiting a receipt`);
  const m = s.meter;
  const carried = m.remainder === '0' ? '' : ` (+${m.remainder} carried)`;
  lines.push(`meter       baseline ${m.exactBaseline ?? 'none'}, ${m.heldUnits} units held${carried}`);
  if (m.health !== undefined) {
    const since = new Date(m.health.sinceMs).toISOString();
    lines.push(
      m.health.state === 'ok'
        ? `meter       readings ok since ${since}`
        : `meter       ${m.health.state} since ${since}${m.health.detail === undefined ? '' : ` (${m.health.detail})`}`,
    );
  }
  lines.push(
    s.lastReceipt === undefined
      ? 'receipt     none yet'
      : `receipt     seq ${s.lastReceipt.seq}, ${s.lastReceipt.cumUnits} units, ${s.lastReceipt.cumAmount} at hub time ${s.lastReceipt.hubTimeMs}`,
  );
  return lines.join('\n');
}
