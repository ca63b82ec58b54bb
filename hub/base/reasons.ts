// Hub-only reason codes. Protocol codes [P-9] travel on the wire; these never do (a REJECT
// carries only protocol numbers). Both kinds are counted in the same SQLite table and in
// tally_vouchers_rejected_total{reason}, so one query shows every refusal.
// The same shape as protocol's REASONS and the API's API_ERRORS. docs/hub.md lists this table;
// test/hub/docs.test.ts fails if the two drift apart, in either direction.

export const HUB_REASONS = {
  HUB_CREDENTIAL_INVALID: { message: 'broker credential malformed, wrongly signed or for another hub [P-6.4]' },
  HUB_DEVICE_REVOKED: { message: 'the device was revoked; its credential and messages are refused' },
  HUB_CREDENTIAL_REPLAYED: {
    message: 'broker credential not newer than one the device already used; the session that has it is kept [P-6.4]',
  },
  HUB_CLIENT_ID: { message: 'MQTT client id is not tally-{dev} for the credential used [P-6.2]' },
  HUB_PACKET_TOO_LARGE: {
    message:
      'embedded broker: an MQTT packet over 26,764 bytes (a CONNECT over 2 KiB, or over 64 KiB before the CONNACK), refused at its fixed header',
  },
  HUB_CONNECT_LIMIT: {
    message: 'embedded broker: too many connections waiting for their CONNACK, hub-wide or from one address',
  },
  HUB_CONNECT_RATE: { message: 'embedded broker: new connections per second from one address over the limit' },
  HUB_TOPIC_DENIED: { message: "publish or subscribe outside the device's subtree [P-6.1]" },
  HUB_UNEXPECTED_TOPIC: {
    message:
      "a message on an uplink topic that is neither seg nor status, or under another partition than the device's own [P-6.7]",
  },
  HUB_STATUS_INVALID: { message: 'a status message that does not decode [P-6.6]' },
  HUB_REORDER_EXPIRED: { message: 'a segment waited in the reorder buffer longer than the reorder window' },
  HUB_COMMIT_FAILED: { message: 'the database refused the write; nothing was acknowledged' },
  HUB_AFTER_INVALID: {
    message: 'chained after a segment whose signature failed; dropped, the device re-sends after RESYNC',
  },
  HUB_INTERNAL: { message: 'an unexpected error while handling the message (a bug); logged, nothing changed' },
} as const satisfies Record<string, { message: string }>;

export type HubReasonCode = keyof typeof HUB_REASONS;

/** Where in the hub a refusal happened; stored with each rejection row. */
export type RejectionStage = 'broker' | 'decode' | 'authorize' | 'sequence' | 'verify' | 'apply' | 'persist' | 'status';
