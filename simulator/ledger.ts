// The ground truth: every valid unit the fleet signed, per channel. Amounts in a voucher chain are
// cumulative, so the truth of a channel is its highest signed head. Reconciliation compares it
// with what the hub accepted and what the settlement bundles settled [DESIGN: Conservation].

export interface Totals {
  units: bigint;
  amount: bigint;
}

export interface SignedHead extends Totals {
  seq: bigint;
}

export class Ledger {
  readonly #signed = new Map<string, SignedHead>();

  /** Records a head the device signed; heads of one channel only move forward. */
  recordSigned(channelId: string, head: SignedHead): void {
    const known = this.#signed.get(channelId);
    if (known === undefined || head.seq > known.seq) this.#signed.set(channelId, { ...head });
  }

  signed(): ReadonlyMap<string, SignedHead> {
    return this.#signed;
  }

  totalSigned(): Totals {
    return sumTotals(this.#signed.values());
  }
}

export interface ChannelMismatch {
  channelId: string;
  signed: Totals;
  accepted: Totals;
  settled: Totals;
}

export interface Reconciliation {
  ok: boolean;
  signed: Totals;
  accepted: Totals;
  settled: Totals;
  /** Units signed but not accepted, summed over channels. */
  lost: bigint;
  /** Units accepted beyond what was signed (counted twice), summed over channels. */
  duplicated: bigint;
  /** Units accepted but not settled, summed over channels. */
  unsettled: bigint;
  mismatches: ChannelMismatch[];
}

const ZERO: Totals = { units: 0n, amount: 0n };

/** signed = accepted = settled for every channel, or the list of channels where it fails. */
export function reconcile(
  signed: ReadonlyMap<string, Totals>,
  accepted: ReadonlyMap<string, Totals>,
  settled: ReadonlyMap<string, Totals>,
): Reconciliation {
  const channels = new Set([...signed.keys(), ...accepted.keys(), ...settled.keys()]);
  let lost = 0n;
  let duplicated = 0n;
  let unsettled = 0n;
  const mismatches: ChannelMismatch[] = [];
  for (const channelId of [...channels].sort()) {
    const s = signed.get(channelId) ?? ZERO;
    const a = accepted.get(channelId) ?? ZERO;
    const t = settled.get(channelId) ?? ZERO;
    if (s.units > a.units) lost += s.units - a.units;
    if (a.units > s.units) duplicated += a.units - s.units;
    if (a.units > t.units) unsettled += a.units - t.units;
    const same = (x: Totals, y: Totals) => x.units === y.units && x.amount === y.amount;
    if (!same(s, a) || !same(a, t)) {
      mismatches.push({ channelId, signed: pick(s), accepted: pick(a), settled: pick(t) });
    }
  }
  return {
    ok: mismatches.length === 0,
    signed: sumTotals(signed.values()),
    accepted: sumTotals(accepted.values()),
    settled: sumTotals(settled.values()),
    lost,
    duplicated,
    unsettled,
    mismatches,
  };
}

function pick(t: Totals): Totals {
  return { units: t.units, amount: t.amount };
}

function sumTotals(values: Iterable<Totals>): Totals {
  let units = 0n;
  let amount = 0n;
  for (const v of values) {
    units += v.units;
    amount += v.amount;
  }
  return { units, amount };
}
