// The hub database schema. u64 money and unit counts are stored as decimal TEXT because SQLite
// integers are signed 64-bit and a u64 may not fit [P-1.1]; sequence numbers and times are
// INTEGER (a seq only grows by one per voucher, so it never approaches 2^63).
// Migrations are a list: the database records how many it has applied in PRAGMA user_version.

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );

  CREATE TABLE devices (
    device_key BLOB PRIMARY KEY CHECK (length(device_key) = 32),
    enrolled_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
  );

  -- One row per channel [P-3]. head_* is the highest contiguous accepted voucher; settled_* the
  -- head at the last epoch that included the channel. capacity is the effective (largest granted).
  CREATE TABLE channels (
    channel_id BLOB PRIMARY KEY CHECK (length(channel_id) = 32),
    device_key BLOB NOT NULL REFERENCES devices(device_key),
    record BLOB NOT NULL,
    unit TEXT NOT NULL,
    price TEXT NOT NULL,
    capacity TEXT NOT NULL,
    opened_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'exhausted', 'closed', 'revoked')),
    head_seq INTEGER NOT NULL DEFAULT 0,
    head_hash BLOB NOT NULL,
    head_units TEXT NOT NULL DEFAULT '0',
    head_amount TEXT NOT NULL DEFAULT '0',
    receipt BLOB,
    settled_seq INTEGER NOT NULL DEFAULT 0,
    settled_hash BLOB NOT NULL,
    settled_units TEXT NOT NULL DEFAULT '0',
    settled_amount TEXT NOT NULL DEFAULT '0',
    equivocated INTEGER NOT NULL DEFAULT 0,
    updated_at_ms INTEGER NOT NULL
  );
  CREATE INDEX channels_by_device ON channels(device_key);

  -- Every accepted segment, as received (the device's own signed bytes). Accepted segments never
  -- overlap in what they add: new_from_seq is the first seq this segment added (a re-sent segment
  -- that overlaps the head adds only its tail). UNIQUE(channel_id, last_seq) makes a second insert
  -- of the same head impossible [DESIGN: store idempotently on (channel, sequence)].
  CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    channel_id BLOB NOT NULL,
    first_seq INTEGER NOT NULL,
    new_from_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    head_hash BLOB NOT NULL,
    cum_units TEXT NOT NULL,
    cum_amount TEXT NOT NULL,
    bytes BLOB NOT NULL,
    received_at_ms INTEGER NOT NULL,
    UNIQUE (channel_id, last_seq)
  );

  CREATE TABLE rejection_counts (
    reason TEXT PRIMARY KEY,
    events INTEGER NOT NULL,
    vouchers INTEGER NOT NULL
  );

  -- The most recent rejections (pruned to a limit); the counts above are kept forever.
  CREATE TABLE rejections (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    stage TEXT NOT NULL,
    reason TEXT NOT NULL,
    device_key BLOB,
    channel_id BLOB,
    seq INTEGER,
    vouchers INTEGER NOT NULL,
    detail TEXT
  );

  -- Evidence of a device signing two different vouchers for one seq: the second segment, as
  -- received, with the hash the hub had stored for that seq.
  CREATE TABLE equivocations (
    id INTEGER PRIMARY KEY,
    channel_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    stored_hash BLOB NOT NULL,
    segment BLOB NOT NULL,
    detected_at_ms INTEGER NOT NULL
  );

  CREATE TABLE epochs (
    epoch INTEGER PRIMARY KEY,
    closed_at_ms INTEGER NOT NULL,
    record BLOB NOT NULL,
    signature BLOB NOT NULL,
    root BLOB NOT NULL,
    entry_count INTEGER NOT NULL,
    total_delta_amount TEXT NOT NULL
  );

  CREATE TABLE settlement_entries (
    epoch INTEGER NOT NULL REFERENCES epochs(epoch),
    channel_id BLOB NOT NULL,
    entry BLOB NOT NULL,
    to_seq INTEGER NOT NULL,
    PRIMARY KEY (epoch, channel_id)
  );
  `,
  // The issuedAtMs of the newest broker credential the hub accepted for the device: an older or
  // equal one is a replay and is refused [P-6.4]. Kept across restarts.
  `
  ALTER TABLE devices ADD COLUMN credential_floor_ms INTEGER NOT NULL DEFAULT 0;
  `,
  // Where each epoch's root was anchored on an EVM chain (docs/settlement.md): the anchor proof as
  // JSON, written once the transaction is mined; NULL while the epoch waits, so a restarted hub
  // finds its pending epochs here.
  `
  ALTER TABLE epochs ADD COLUMN anchor TEXT;
  `,
  // The webhook outbox (docs/webhooks.md): events are written in the transaction of the state change
  // that caused them, with one delivery row per matching subscription; the delivery loop sends
  // them afterwards. Event ids are derived from their cause, so writing one twice keeps the first.
  // subscriptions.events is ',type,type,' (or '*'), so a delivery is matched with instr().
  `
  CREATE TABLE webhook_subscriptions (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
  );

  CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
  );
  CREATE INDEX webhook_events_by_time ON webhook_events(created_at_ms);

  CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES webhook_events(id),
    subscription_id INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    last_attempt_at_ms INTEGER,
    last_status INTEGER,
    last_error TEXT,
    created_at_ms INTEGER NOT NULL,
    delivered_at_ms INTEGER,
    UNIQUE (event_id, subscription_id)
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at_ms);
  CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries(subscription_id);

  -- A channel's own channel.low_capacity threshold ('5000' minor units or '10%' of the capacity);
  -- channels without a row use the hub's default.
  CREATE TABLE webhook_thresholds (
    channel_id BLOB PRIMARY KEY,
    low_capacity TEXT NOT NULL
  );
  `,
];
