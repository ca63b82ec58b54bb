// The hub database on PostgreSQL: the same tables as SQLite (hub/store/schema.ts), typed for it.
// Sequence numbers and times are int8; u64 money and unit counts are numeric(20,0) because a u64
// may not fit a signed int8 [P-1.1]. Both come back to JavaScript as BigInt, never as a float.
// Migrations are a numbered list; schema_migrations records which have run, and each runs in its
// own transaction under an advisory lock, so hubs starting at once migrate once.

export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (
    key text PRIMARY KEY,
    value text NOT NULL
  );

  CREATE TABLE devices (
    device_key bytea PRIMARY KEY CHECK (length(device_key) = 32),
    enrolled_at_ms int8 NOT NULL,
    revoked_at_ms int8,
    credential_floor_ms int8 NOT NULL DEFAULT 0
  );

  CREATE TABLE channels (
    channel_id bytea PRIMARY KEY CHECK (length(channel_id) = 32),
    device_key bytea NOT NULL REFERENCES devices(device_key),
    record bytea NOT NULL,
    unit text NOT NULL,
    price numeric(20, 0) NOT NULL CHECK (price >= 0),
    capacity numeric(20, 0) NOT NULL CHECK (capacity >= 0),
    opened_at_ms int8 NOT NULL,
    expires_at_ms int8 NOT NULL,
    state text NOT NULL CHECK (state IN ('open', 'exhausted', 'closed', 'revoked')),
    head_seq int8 NOT NULL DEFAULT 0,
    head_hash bytea NOT NULL,
    head_units numeric(20, 0) NOT NULL DEFAULT 0,
    head_amount numeric(20, 0) NOT NULL DEFAULT 0,
    receipt bytea,
    settled_seq int8 NOT NULL DEFAULT 0,
    settled_hash bytea NOT NULL,
    settled_units numeric(20, 0) NOT NULL DEFAULT 0,
    settled_amount numeric(20, 0) NOT NULL DEFAULT 0,
    equivocated boolean NOT NULL DEFAULT false,
    updated_at_ms int8 NOT NULL
  );
  CREATE INDEX channels_by_device ON channels(device_key);

  -- UNIQUE(channel_id, last_seq): a second insert of the same head is impossible, whatever a hub
  -- believes [DESIGN: store idempotently on (channel, sequence)].
  CREATE TABLE segments (
    id bigserial PRIMARY KEY,
    channel_id bytea NOT NULL,
    first_seq int8 NOT NULL,
    new_from_seq int8 NOT NULL,
    last_seq int8 NOT NULL,
    head_hash bytea NOT NULL,
    cum_units numeric(20, 0) NOT NULL,
    cum_amount numeric(20, 0) NOT NULL,
    bytes bytea NOT NULL,
    received_at_ms int8 NOT NULL,
    UNIQUE (channel_id, last_seq)
  );

  CREATE TABLE rejection_counts (
    reason text PRIMARY KEY,
    events int8 NOT NULL,
    vouchers int8 NOT NULL
  );

  CREATE TABLE rejections (
    id bigserial PRIMARY KEY,
    at_ms int8 NOT NULL,
    stage text NOT NULL,
    reason text NOT NULL,
    device_key bytea,
    channel_id bytea,
    seq int8,
    vouchers int8 NOT NULL,
    detail text
  );
  CREATE INDEX rejections_by_reason ON rejections(reason, id);

  CREATE TABLE equivocations (
    id bigserial PRIMARY KEY,
    channel_id bytea NOT NULL,
    seq int8 NOT NULL,
    stored_hash bytea NOT NULL,
    segment bytea NOT NULL,
    detected_at_ms int8 NOT NULL
  );
  CREATE INDEX equivocations_by_channel ON equivocations(channel_id, id);

  CREATE TABLE epochs (
    epoch int8 PRIMARY KEY,
    closed_at_ms int8 NOT NULL,
    record bytea NOT NULL,
    signature bytea NOT NULL,
    root bytea NOT NULL,
    entry_count int8 NOT NULL,
    total_delta_amount numeric(20, 0) NOT NULL
  );

  CREATE TABLE settlement_entries (
    epoch int8 NOT NULL REFERENCES epochs(epoch),
    channel_id bytea NOT NULL,
    entry bytea NOT NULL,
    to_seq int8 NOT NULL,
    PRIMARY KEY (epoch, channel_id)
  );
  `,
  // Where each epoch's root was anchored on a chain (docs/settlement.md), as the proof's JSON once
  // mined; NULL while the epoch waits. The webhook outbox (docs/webhooks.md): events written in the
  // transaction of their cause, one delivery per matching subscription. The same tables as SQLite's
  // last two migrations (hub/store/schema.ts), with PostgreSQL's types.
  `
  ALTER TABLE epochs ADD COLUMN anchor text;
  CREATE INDEX epochs_unanchored ON epochs(epoch) WHERE anchor IS NULL;

  CREATE TABLE webhook_subscriptions (
    id bigserial PRIMARY KEY,
    url text NOT NULL,
    -- ',type,type,' so a type matches as a whole name; '*' for every type.
    events text NOT NULL,
    secret text NOT NULL,
    created_at_ms int8 NOT NULL
  );

  CREATE TABLE webhook_events (
    id text PRIMARY KEY,
    type text NOT NULL,
    payload text NOT NULL,
    created_at_ms int8 NOT NULL
  );
  CREATE INDEX webhook_events_by_time ON webhook_events(created_at_ms);

  CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    event_id text NOT NULL REFERENCES webhook_events(id),
    subscription_id int8 NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts int4 NOT NULL DEFAULT 0,
    next_attempt_at_ms int8 NOT NULL,
    last_attempt_at_ms int8,
    last_status int4,
    last_error text,
    created_at_ms int8 NOT NULL,
    delivered_at_ms int8,
    UNIQUE (event_id, subscription_id)
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at_ms, id) WHERE state = 'pending';
  CREATE INDEX webhook_deliveries_by_state ON webhook_deliveries(state, id);
  CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries(subscription_id);

  -- A channel's own channel.low_capacity threshold ('5000' minor units or '10%' of the capacity).
  CREATE TABLE webhook_thresholds (
    channel_id bytea PRIMARY KEY,
    low_capacity text NOT NULL
  );
  `,
  // A device's partition [P-6.7], computed by the database from its key: the first byte of
  // H(tag("partition") || key), the tag being 'tally/v1/partition' and one 0x00 byte. A hub that
  // takes partitions over reads just their devices and channels, not the whole fleet per partition.
  `
  ALTER TABLE devices ADD COLUMN partition int2 NOT NULL
    GENERATED ALWAYS AS (get_byte(sha256('\\x74616c6c792f76312f706172746974696f6e00'::bytea || device_key), 0)) STORED;
  CREATE INDEX devices_by_partition ON devices(partition);
  `,
];
