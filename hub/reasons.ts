// Hub-only reason codes. Protocol codes [P-9] travel on the wire; these never do (a REJECT
// carries only protocol numbers). Both kinds are counted in the same SQLite table and in
// tally_vouchers_rejected_total{reason}, so one query shows every refusal.
// docs/hub.md lists this table; test/hub/reasons.test.ts fails if the two drift apart.

export const HUB_REASONS = {
  HUB_CREDENTIAL_INVALID: 'broker credential malformed, wrongly signed or for another hub [P-6.4]',
  HUB_CREDENTIAL_EXPIRED: 'broker credential issued outside the credential window [P-6.4]',
  HUB_DEVICE_REVOKED: 'the device was revoked; its credential and messages are refused',
  HUB_CREDENTIAL_REPLAYED: 'broker credential not newer than one the device already used; its session is kept [P-6.4]',
  HUB_CLIENT_ID: 'MQTT client id is not tally-{dev} for the credential used [P-6.2]',
  HUB_PACKET_TOO_LARGE: 'an MQTT packet (or the bytes before the CONNACK) over the embedded broker size limit',
  HUB_CONNECT_LIMIT: 'too many connections waiting for their CONNACK, hub-wide or from one address',
  HUB_CONNECT_RATE: 'new connections per second from one address over the limit',
  HUB_TOPIC_DENIED: 'publish or subscribe outside the device subtree [P-6.1]',
  HUB_UNEXPECTED_TOPIC: 'a message on an uplink topic that is neither seg nor status',
  HUB_STATUS_INVALID: 'a status message that does not decode [P-6.6]',
  HUB_REORDER_EXPIRED: 'a segment waited in the reorder buffer longer than the reorder window',
  HUB_COMMIT_FAILED: 'the database refused the write; nothing was acknowledged',
  HUB_AFTER_INVALID: 'chained after a segment whose signature failed; dropped, the device re-sends after RESYNC',
  HUB_INTERNAL: 'an unexpected error while handling the message (a bug); logged, nothing changed',
} as const;

export type HubReasonCode = keyof typeof HUB_REASONS;

/** Where in the hub a refusal happened; stored with each rejection row. */
export type RejectionStage = 'broker' | 'decode' | 'authorize' | 'sequence' | 'verify' | 'apply' | 'persist' | 'status';
