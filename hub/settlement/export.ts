// Exports of a closed epoch: the self-contained JSON bundle (format version 2, or 3 once anchored) that `tally-hub
// verify` (or anyone with protocol/) checks offline [P-8.5], and a CSV for billing systems.

import {
  buildBundle,
  decodeChannelRecord,
  decodeEntry,
  denominationOf,
  formatAmount,
  toHex,
  type BundleAnchorJson,
  type BundleEntryInput,
  type BundleJson,
  type SettlementEntry,
} from '../../protocol/index.js';
import { ApiError } from '../base/api-errors.js';
import { signedHeadAt } from '../model/history.js';
import type { HubStore } from '../store/types.js';

async function entriesOf(store: HubStore, epoch: bigint): Promise<{ bytes: Uint8Array; entry: SettlementEntry }[]> {
  if (!(await store.getEpoch(epoch))) throw new ApiError('API_NOT_FOUND', `no epoch ${epoch}`);
  return (await store.epochEntries(epoch)).map((row) => {
    const decoded = decodeEntry(row.entry);
    if (!decoded.ok) throw new ApiError('API_INTERNAL', `stored entry does not decode: ${decoded.code}`);
    return { bytes: row.entry, entry: decoded.value };
  });
}

/** The bundle of an epoch; `channelIds` (hex) limits it to some channels (one customer's). */
export async function exportBundle(
  store: HubStore,
  epoch: bigint,
  channelIds?: readonly string[],
): Promise<BundleJson> {
  const all = await entriesOf(store, epoch);
  const row = (await store.getEpoch(epoch))!;
  const wanted = channelIds ? all.filter((e) => channelIds.includes(toHex(e.entry.channelId))) : all;
  const inputs: BundleEntryInput[] = [];
  for (const { bytes, entry } of wanted) {
    const channel = await store.getChannel(entry.channelId);
    const head = await signedHeadAt(store, entry.channelId, entry.toSeq);
    if (!channel || !head) throw new ApiError('API_INTERNAL', `evidence missing for channel ${toHex(entry.channelId)}`);
    const input: BundleEntryInput = {
      entry: bytes,
      channelRecord: channel.record,
      headVoucher: head.voucher,
      headSignature: head.signature,
    };
    if (entry.fromSeq > 1n) {
      // The previous settled head is always the head of an accepted segment, so the device's own
      // signature over it is stored: the span's start, and the delta, need no trust in the hub
      // [P-8.5 check 31].
      const prev = await signedHeadAt(store, entry.channelId, entry.fromSeq - 1n);
      if (!prev)
        throw new ApiError('API_INTERNAL', `signed head ${entry.fromSeq - 1n} missing for ${toHex(entry.channelId)}`);
      input.prevVoucher = prev.voucher;
      input.prevSignature = prev.signature;
    }
    inputs.push(input);
  }
  // An anchored epoch's bundle is version 3 and says where its root is on chain [P-8.8]; one not
  // (yet) anchored stays version 2, which every earlier verifier reads.
  const anchor = await store.epochAnchor(epoch);
  return buildBundle({
    epochRecord: row.record,
    epochSignature: row.signature,
    entries: inputs,
    epochEntries: all.map((e) => e.bytes),
    ...(anchor === undefined ? {} : { anchor: JSON.parse(anchor) as BundleAnchorJson }),
  });
}

// The first thirteen columns are those of version-1 channels, unchanged; the currency columns follow
// so a script that reads columns by position keeps working. On a version-1 channel they are empty.
export const CSV_HEADER =
  'epoch,closed_at_ms,channel_id,device_key,unit,price_per_unit,from_seq,to_seq,delta_units,delta_amount,cum_units,cum_amount,head_hash,' +
  'currency,exponent,price_per_unit_decimal,delta_amount_decimal,cum_amount_decimal';

/**
 * One line per channel settled in the epoch; integers as exact decimals, never floats. Amounts are
 * minor units, and for a channel with a currency also decimals of it ("0.000300"), made from the
 * integers with bigint arithmetic [P-1.2].
 */
export async function exportCsv(store: HubStore, epoch: bigint): Promise<string> {
  const row = await store.getEpoch(epoch);
  const lines = [CSV_HEADER];
  for (const { entry: e } of await entriesOf(store, epoch)) {
    const channel = await store.getChannel(e.channelId);
    const record = channel ? decodeChannelRecord(channel.record) : undefined;
    const unit = record?.ok ? record.value.unit : '';
    const terms = record?.ok ? denominationOf(record.value) : undefined;
    const decimal = (minor: bigint | undefined) =>
      terms && minor !== undefined ? formatAmount(minor, terms.exponent) : '';
    lines.push(
      [
        e.epoch,
        row!.closedAtMs,
        toHex(e.channelId),
        channel ? toHex(channel.deviceKey) : '',
        unit,
        record?.ok ? record.value.pricePerUnit : '',
        e.fromSeq,
        e.toSeq,
        e.deltaUnits,
        e.deltaAmount,
        e.cumUnits,
        e.cumAmount,
        toHex(e.headHash),
        // A CAIP-19 id has no comma, so it needs no quoting.
        terms?.currency ?? '',
        terms?.exponent ?? '',
        decimal(record?.ok ? record.value.pricePerUnit : undefined),
        decimal(e.deltaAmount),
        decimal(e.cumAmount),
      ].join(','),
    );
  }
  return lines.join('\n') + '\n';
}
