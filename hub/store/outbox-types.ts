// The webhook outbox's storage interface (docs/webhooks.md). Events are written by the hub's own
// transactions (the group commit, the management operations, the epoch close: see OutboxEvent in
// HubStore); everything here is what the delivery loop, the API and the CLI do afterwards. The
// methods are async so a networked database can implement them the same way.

/** One event as it is written with the state change that caused it. */
export interface OutboxEvent {
  /** Stable id derived from the cause (model/webhook-events.ts): the receivers' idempotency key.
   *  Writing the same id twice keeps the first. */
  id: string;
  type: string;
  /** The JSON body exactly as it is sent. */
  payload: string;
  createdAtMs: bigint;
}

export interface SubscriptionRow {
  id: bigint;
  url: string;
  /** Event types, or ['*'] for every type. */
  events: string[];
  /** `whsec_` + base64 of the key [Standard Webhooks]. Never shown after creation. */
  secret: string;
  createdAtMs: bigint;
}

export type DeliveryState = 'pending' | 'delivered' | 'dead';

export interface DeliveryRow {
  id: bigint;
  eventId: string;
  eventType: string;
  subscriptionId: bigint;
  state: DeliveryState;
  attempts: number;
  nextAttemptAtMs: bigint;
  lastAttemptAtMs: bigint | null;
  /** HTTP status of the last attempt, or null when it got none (timeout, refused connection). */
  lastStatus: number | null;
  lastError: string | null;
  createdAtMs: bigint;
  deliveredAtMs: bigint | null;
}

/** A delivery claimed by the loop, with what it needs to send it. */
export interface DeliveryJob extends DeliveryRow {
  payload: string;
  url: string;
  secret: string;
}

export interface DeliveryOutcome {
  id: bigint;
  atMs: bigint;
  /** 'delivered', 'retry' (at nextAttemptAtMs) or 'dead'. */
  state: 'delivered' | 'retry' | 'dead';
  nextAttemptAtMs?: bigint;
  status: number | null;
  error: string | null;
}

export interface ClaimQuery {
  nowMs: bigint;
  limit: number;
  perSubscription: number;
  /** In flight per subscription id. */
  busy: ReadonlyMap<bigint, number>;
  leaseUntilMs: bigint;
}

export interface OutboxStore {
  /** Writes events in a transaction of their own (those no other state change carries, such as
   *  device.offline). */
  appendEvents(events: OutboxEvent[]): Promise<void>;

  addSubscription(s: { url: string; events: string[]; secret: string; createdAtMs: bigint }): Promise<SubscriptionRow>;
  listSubscriptions(): Promise<SubscriptionRow[]>;
  /** Removes the subscription and every delivery still owed to it. False if unknown. */
  removeSubscription(id: bigint): Promise<boolean>;

  /**
   * Pending deliveries due at `nowMs`, oldest first, at most `limit` and at most `perSubscription`
   * per subscription counting those `busy` (in flight). Each one's next attempt moves to
   * `leaseUntilMs`, so a hub that dies while sending it sends it again after a restart, and no
   * other loop takes it meanwhile.
   */
  claimDue(q: ClaimQuery): Promise<DeliveryJob[]>;
  /** The result of one attempt (attempts + 1). */
  recordAttempt(outcome: DeliveryOutcome): Promise<void>;
  /** The earliest next attempt among pending deliveries, if any. */
  nextDueAtMs(): Promise<bigint | undefined>;

  listDeliveries(q: { state?: DeliveryState; limit: number; eventId?: string; id?: bigint }): Promise<DeliveryRow[]>;
  /** Sends a delivery again from scratch (a dead letter, or a replay of one delivered): pending,
   *  no attempts, due at `nowMs`. False if unknown. */
  retryDelivery(id: bigint, nowMs: bigint): Promise<boolean>;
  /** Deliveries by state: the outbox depth (pending) and the dead letters. */
  countDeliveries(): Promise<Record<DeliveryState, number>>;
  /** A channel's own low-capacity threshold ('5000' or '10%'); null goes back to the default. */
  setThreshold(channelId: Uint8Array, lowCapacity: string | null): Promise<void>;
  listThresholds(): Promise<{ channelId: Uint8Array; lowCapacity: string }[]>;
  /** Deletes delivered deliveries and the events nothing refers to any more, older than `beforeMs`. */
  prune(beforeMs: bigint): Promise<void>;
}
