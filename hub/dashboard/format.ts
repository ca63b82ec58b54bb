// Display formatting. Decimal strings stay exact: grouping is done on the digits, never through
// a float.

export function groupDigits(decimal: string): string {
  if (!/^\d+$/.test(decimal)) return decimal;
  return decimal.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A rate for display (a float by nature: units per second). */
export function rate(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(n >= 10 ? 1 : 2);
}

export function short(hex: string, n = 12): string {
  return hex.length > n ? `${hex.slice(0, n)}…` : hex;
}

export function ago(ms: string | number | null, now = Date.now()): string {
  if (ms === null) return 'never';
  const s = Math.max(0, Math.round((now - Number(ms)) / 1000));
  if (s < 2) return 'just now';
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

export function when(ms: string | number): string {
  return new Date(Number(ms))
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** used / capacity as a percentage with one decimal, computed on bigints. */
export function percent(used: string, capacity: string): number {
  const c = BigInt(capacity);
  if (c === 0n) return 0;
  return Number((BigInt(used) * 1000n) / c) / 10;
}
