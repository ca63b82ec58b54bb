// The end of a run: close an epoch on the hub, fetch every epoch the run created, verify each
// bundle offline with nothing but the bundle and the hub key, and read what the hub accepted.
import { verifyBundle } from '../protocol/index.js';
import type { Totals } from './ledger.js';
import type { Target } from './target.js';

export interface SettlementOutcome {
  /** Per channel of this run: cumulative units and amount in the latest verified entry. */
  settled: Map<string, Totals>;
  /** Per channel of this run: the hub's committed head. */
  accepted: Map<string, Totals>;
  acceptedVouchers: bigint;
  epochs: number[];
  bundlesVerified: boolean;
}

export async function settleAndVerify(
  target: Target,
  epochsBefore: ReadonlySet<string>,
  ours: ReadonlySet<string>,
  log: (m: string) => void,
): Promise<SettlementOutcome> {
  await target.api.settle();
  const newEpochs = (await target.api.epochs()).filter((e) => !epochsBefore.has(e.epoch));
  const settled = new Map<string, Totals>();
  let bundlesVerified = newEpochs.length > 0;
  for (const e of newEpochs) {
    const verdict = verifyBundle(await target.api.bundle(e.epoch), { hubKey: target.hubKey });
    if (!verdict.ok) {
      bundlesVerified = false;
      log(
        `bundle of epoch ${e.epoch} does not verify: ${verdict.reasons
          .slice(0, 3)
          .map((r) => `${r.code} ${r.detail}`)
          .join('; ')}`,
      );
      continue;
    }
    for (const c of verdict.summary.channels) {
      if (!ours.has(c.channelId)) continue;
      const known = settled.get(c.channelId);
      if (known === undefined || c.cumUnits > known.units)
        settled.set(c.channelId, { units: c.cumUnits, amount: c.cumAmount });
    }
  }
  const accepted = new Map<string, Totals>();
  let acceptedVouchers = 0n;
  for (const ch of await target.api.channels()) {
    if (!ours.has(ch.channelId)) continue;
    accepted.set(ch.channelId, { units: BigInt(ch.head.cumUnits), amount: BigInt(ch.head.cumAmount) });
    acceptedVouchers += BigInt(ch.head.seq);
  }
  return { settled, accepted, acceptedVouchers, epochs: newEpochs.map((e) => Number(e.epoch)), bundlesVerified };
}
