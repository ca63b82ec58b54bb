// Human output of the CLI: aligned columns and key/value blocks. --json prints the views as they
// are (decimal strings for money), for scripts.

type Row = Record<string, unknown>;

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
}

const short = (v: unknown): string => {
  const s = v === null || v === undefined ? '-' : String(v);
  return /^[0-9a-f]{64}$/.test(s) ? `${s.slice(0, 12)}…` : s;
};

export function printTable(rows: Row[], columns: [key: string, title: string][]): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cells = rows.map((r) =>
    columns.map(([k]) => short(k.split('.').reduce<unknown>((o, p) => (o as Row | undefined)?.[p], r))),
  );
  const widths = columns.map(([, t], i) => Math.max(t.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd() + '\n';
  process.stdout.write(line(columns.map(([, t]) => t)));
  for (const c of cells) process.stdout.write(line(c));
}

export function printBlock(value: Row, indent = ''): void {
  for (const [k, v] of Object.entries(value)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      process.stdout.write(`${indent}${k}:\n`);
      printBlock(v as Row, indent + '  ');
    } else if (Array.isArray(v)) {
      process.stdout.write(`${indent}${k}: ${v.length === 0 ? '(none)' : ''}\n`);
      for (const item of v) {
        if (item !== null && typeof item === 'object') {
          printBlock(item as Row, indent + '  - ');
        } else process.stdout.write(`${indent}  - ${String(item)}\n`);
      }
    } else process.stdout.write(`${indent}${k}: ${v === null ? '-' : String(v)}\n`);
  }
}

export const DEVICE_COLUMNS: [string, string][] = [
  ['publicKey', 'DEVICE'],
  ['revoked', 'REVOKED'],
  ['connected', 'CONNECTED'],
  ['channelId', 'CHANNEL'],
];

export const CHANNEL_COLUMNS: [string, string][] = [
  ['channelId', 'CHANNEL'],
  ['devicePublicKey', 'DEVICE'],
  ['state', 'STATE'],
  ['unit', 'UNIT'],
  ['money.pricePerUnit', 'PRICE'],
  ['head.seq', 'SEQ'],
  ['head.cumUnits', 'UNITS'],
  ['money.headAmount', 'AMOUNT'],
  ['money.capacity', 'CAPACITY'],
  ['money.unsettledAmount', 'UNSETTLED'],
];
