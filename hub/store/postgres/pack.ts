// Many byte strings as one binary parameter. node-postgres sends a Buffer parameter in binary, but
// each element of a bytea[] parameter as hex text (`\\x...`) that the hub builds and PostgreSQL
// parses back: for a group commit of segments that is most of their bytes twice over, and it
// showed in profiles of a PostgreSQL hub (bind and GC). SQL takes each item back with
// `substring(blob FROM start FOR len)`; bytesAt() writes that expression.

export interface PackedBytes {
  /** Every item, back to back. */
  readonly blob: Buffer;
  /** 1-based start of each item in blob (SQL substring counts from 1). */
  readonly starts: number[];
  /** Length of each item; -1 for a null item. */
  readonly lens: number[];
}

export function packBytes(items: readonly (Uint8Array | null | undefined)[]): PackedBytes {
  let total = 0;
  for (const item of items) total += item?.byteLength ?? 0;
  const blob = Buffer.allocUnsafe(total);
  const starts: number[] = [];
  const lens: number[] = [];
  let at = 0;
  for (const item of items) {
    starts.push(at + 1);
    if (item == null) {
      lens.push(-1);
      continue;
    }
    blob.set(item, at);
    lens.push(item.byteLength);
    at += item.byteLength;
  }
  return { blob, starts, lens };
}

/** The SQL for one item of a packed parameter: `blob` is its `$n`, start and len its columns. */
export function bytesAt(blob: string, start: string, len: string): string {
  return `CASE WHEN ${len} < 0 THEN NULL ELSE substring(${blob}::bytea FROM ${start} FOR ${len}) END`;
}
