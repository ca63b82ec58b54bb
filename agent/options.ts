// What an Agent is given and what it emits: the library's options (the CLI fills them from the
// frozen config; the simulator and tests pass their own) and its typed events.
import type { Ed25519Backend, KeyPair } from '../protocol/index.js';
import type { Clock } from './clock.js';
import type { AgentLogEntry } from './codes.js';
import type { CrashPoint } from './config.js';
import type { MeterSource } from './meter/index.js';
import type { OutboxStore } from './outbox/types.js';

export interface AgentOptions {
  readonly keyPair: KeyPair;
  readonly hubKey: Uint8Array;
  readonly store: OutboxStore;
  readonly meter: MeterSource;
  readonly broker: { readonly url: string; readonly tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer } };
  readonly batch?: number;
  readonly batchMs?: number;
  readonly window?: number;
  readonly maxBacklog?: number;
  readonly ackTimeoutMs?: number;
  /** A meter with no reading for this long is reported stale (METER_STALE); 0 turns it off. */
  readonly meterStaleMs?: number;
  /** A meter whose counter has not moved for this long is reported frozen (METER_FROZEN); 0 = off. */
  readonly meterFrozenMs?: number;
  /** First delay before a device without a channel says hello again; doubles up to 2 minutes. */
  readonly helloRetryMs?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly backend?: Ed25519Backend;
  /** Test-only kill points (see TALLY_AGENT_CRASH_AT in docs/agent.md). */
  readonly onCrashPoint?: (point: CrashPoint, occurrence: number) => void;
  /**
   * Simulation hook: every segment goes through it instead of straight to the link, so the fleet
   * simulator can duplicate, delay, reorder or forge traffic on the wire. `publish` sends one
   * payload on the segment topic; the hook must send the genuine payload at some point.
   */
  readonly interceptSegment?: (payload: Uint8Array, publish: (payload: Uint8Array) => Promise<void>) => Promise<void>;
}

export interface AgentEvents {
  log: [entry: AgentLogEntry];
  channel: [channelIdHex: string];
  committed: [firstSeq: bigint, lastSeq: bigint];
  receipt: [seq: bigint, cumUnits: bigint, cumAmount: bigint];
  link: [up: boolean];
}
