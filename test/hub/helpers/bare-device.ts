// A device for the socket-free hub core: enrolled through the core, it builds signed chains with
// protocol/ and hands bytes straight to the ingest pipeline, as the broker would.
import {
  buildSegment,
  encodeSegment,
  generateKeyPair,
  genesisHead,
  toHex,
  topics,
  type BuiltSegment,
  type Head,
  type KeyPair,
  type Segment,
} from '../../../protocol/index.js';
import type { BareCore } from './bare-core.js';

export class BareDevice {
  readonly hex: string;
  readonly channelId: Uint8Array;
  readonly price: bigint;
  head: Head;
  private time = 1_000n;

  /** Enrols a device through the core and returns it, its channel open. */
  static async enrol(
    hub: BareCore,
    terms: { price?: bigint; capacity?: bigint; expiresAtMs?: bigint } = {},
    key: KeyPair = generateKeyPair(),
  ): Promise<BareDevice> {
    await hub.core.enrol([
      {
        publicKey: toHex(key.publicKey),
        unit: 'Wh',
        pricePerUnit: terms.price ?? 3n,
        capacity: terms.capacity ?? 1_000_000_000n,
        ...(terms.expiresAtMs !== undefined ? { expiresAtMs: terms.expiresAtMs } : {}),
      },
    ]);
    return new BareDevice(hub, terms, key);
  }

  private constructor(
    readonly hub: BareCore,
    terms: { price?: bigint },
    readonly key: KeyPair,
  ) {
    this.hex = toHex(key.publicKey);
    this.price = terms.price ?? 3n;
    this.channelId = hub.core.fleet.currentChannel(this.hex)!.id;
    this.head = genesisHead(this.channelId);
  }

  /** The next `count` vouchers of `unitsEach` units, signed, from `prev` (default: own head). */
  build(
    count: number,
    unitsEach = 1n,
    opts: { prev?: Head; timeShiftMs?: bigint; advance?: boolean } = {},
  ): BuiltSegment {
    const prev = opts.prev ?? this.head;
    const vouchers = [];
    let units = prev.cumUnits;
    for (let i = 0; i < count; i++) {
      units += unitsEach;
      vouchers.push({
        cumUnits: units,
        cumAmount: units * this.price,
        deviceTimeMs: this.time++ + (opts.timeShiftMs ?? 0n),
      });
    }
    const built = buildSegment({ channelId: this.channelId, prev, vouchers, secretKey: this.key.secretKey });
    if (opts.advance !== false) this.head = built.head;
    return built;
  }

  send(seg: BuiltSegment | Segment | Uint8Array, asDevice = this.hex): void {
    const bytes = seg instanceof Uint8Array ? seg : encodeSegment('segment' in seg ? seg.segment : seg);
    this.hub.core.pipeline.onMessage(topics.segment(asDevice), bytes);
  }

  /** Committed head of this device's channel (what a receipt may cover). */
  async durable(): Promise<Head> {
    return (await this.hub.core.ledger.getChannel(this.channelId))!.head;
  }
}

/** Lets the group commit (scheduled with setImmediate) run. */
export const commitTurn = () => new Promise((r) => setImmediate(r));

/** Rejection events by reason, from the store. */
export async function rejectionCounts(hub: BareCore): Promise<Record<string, bigint>> {
  await hub.core.flush();
  return Object.fromEntries((await hub.core.ledger.rejectionCounts()).map((c) => [c.reason, c.events]));
}
