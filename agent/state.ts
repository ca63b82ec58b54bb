// What the parts of one Agent share: the channel it holds, the last receipt, the outbox depth, and
// the agent's options, clock, counters, log and test hooks. Production (production.ts), the link
// side (uplink.ts) and the downlink side (downlink-handler.ts) each read and change this one
// object, so there is a single copy of each fact and none of them can drift from another.
import type { EventEmitter } from 'node:events';
import type { ChannelRecord, Head } from '../protocol/index.js';
import type { Clock } from './clock.js';
import type { AgentCode } from './codes.js';
import type { CrashPoint } from './config.js';
import type { AgentEvents, AgentOptions } from './options.js';
import type { ChannelState, StoredReceipt } from './outbox/types.js';

/** The options with their defaults filled in (the hooks and injectables stay optional). */
export type ResolvedAgentOptions = Required<
  Omit<AgentOptions, 'onCrashPoint' | 'backend' | 'random' | 'interceptSegment'>
> &
  AgentOptions;

/** What the agent counts from its start (Agent.counters); the simulator's report reads them. */
export function newCounters() {
  return {
    unitsMetered: 0n,
    vouchersCommitted: 0n,
    segmentsCommitted: 0,
    segmentsPublished: 0,
    receiptsApplied: 0,
    receiptsIgnored: 0,
    controlsIgnored: 0,
    rejects: 0,
    resyncs: 0,
    meterProblems: 0,
    counterResets: 0,
    counterRollovers: 0,
    linkUps: 0,
  };
}

export type AgentCounters = ReturnType<typeof newCounters>;

export interface Channel {
  channelId: Uint8Array;
  record: ChannelRecord;
  capacity: bigint;
  state: ChannelState;
  head: Head;
}

export interface AgentState {
  running: boolean;
  channel: Channel | undefined;
  receipt: StoredReceipt | undefined;
  /** Vouchers in the outbox that no receipt covers yet. */
  outstanding: number;
  /** CHANNEL_CLOSED is logged once per channel, and again only after it reopens. */
  closedLogged: boolean;
}

export interface AgentContext {
  readonly o: ResolvedAgentOptions;
  readonly clock: Clock;
  readonly deviceHex: string;
  readonly counters: AgentCounters;
  readonly state: AgentState;
  readonly events: EventEmitter<AgentEvents>;
  readonly log: (code: AgentCode, detail?: string) => void;
  readonly logThrottled: (code: AgentCode, detail: string) => void;
  readonly crash: (point: CrashPoint) => void;
}
