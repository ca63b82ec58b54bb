// The agent's own event codes: what it logs, counts and reports. Protocol reason codes (clause 9)
// stay in protocol/errors.ts; these say what the agent saw or did. Every log line of tally-agent
// carries one in its `code` field. docs/agent.md ("Logs") lists this table and
// test/agent/codes.test.ts fails when the two differ, in either direction.

import type { LineLevel } from '../common/log-levels.js';

export const AGENT_CODES = {
  CONFIG_INVALID: { level: 'error', message: 'the configuration is invalid' },
  KEY_MISSING: { level: 'error', message: 'no device key: run `tally-agent init` first' },
  KEY_INVALID: { level: 'error', message: 'the device key file is unreadable or malformed' },
  KEY_PERMISSIONS: { level: 'warn', message: 'the device key file is readable by other users' },
  METER_UNREADABLE: { level: 'warn', message: 'the meter could not be read; no units counted' },
  METER_BAD_READING: { level: 'warn', message: 'the meter gave something that is not a counter; ignored' },
  METER_DECREASED: {
    level: 'warn',
    message: 'the counter went backwards: a reset or a replaced meter (new baseline, no units)',
  },
  METER_ROLLOVER: { level: 'info', message: 'the register wrapped past its top: units counted across the wrap' },
  METER_STALE: { level: 'warn', message: 'no reading from the meter for too long; no units counted meanwhile' },
  METER_FROZEN: { level: 'warn', message: 'the meter keeps answering but its counter has not moved for too long' },
  METER_RECOVERED: { level: 'info', message: 'the meter gives fresh, moving readings again' },
  UNITS_HELD: { level: 'info', message: 'units metered before a channel exists are kept until the grant arrives' },
  LINK_UP: { level: 'info', message: 'connected to the broker' },
  LINK_DOWN: { level: 'warn', message: 'disconnected from the broker; reconnecting with backoff' },
  LINK_ERROR: { level: 'warn', message: 'broker connection error' },
  CHANNEL_GRANTED: { level: 'info', message: 'verified channel grant from the hub' },
  GRANT_WRONG_HUB: { level: 'warn', message: 'grant names another hub key; ignored' },
  GRANT_WRONG_DEVICE: { level: 'warn', message: 'grant names another device key; ignored' },
  CONTROL_INVALID: { level: 'warn', message: 'control message failed to decode or verify; ignored' },
  CONTROL_WRONG_CHANNEL: { level: 'warn', message: 'control message for another channel; ignored' },
  RECEIPT_INVALID: { level: 'warn', message: 'receipt failed to decode or verify; ignored' },
  RECEIPT_MISMATCH: { level: 'error', message: 'receipt does not match the vouchers this device signed; ignored' },
  RECEIPT_STALE: { level: 'debug', message: 'receipt covers nothing new' },
  HUB_AHEAD: { level: 'warn', message: "the hub's head is ahead of this device's outbox; adopting the hub's head" },
  HUB_BEHIND: { level: 'error', message: 'the hub lost vouchers this device already deleted on a receipt' },
  RESYNC: { level: 'info', message: "hub asked for a resync; re-sending from the hub's head" },
  RESYNC_MISMATCH: { level: 'error', message: "the hub's head hash differs from this device's chain" },
  SEGMENT_REJECTED: { level: 'warn', message: 'the hub rejected a segment' },
  ACK_TIMEOUT: { level: 'info', message: 'no receipt in time; re-sending unacknowledged segments' },
  CHANNEL_EXHAUSTED: { level: 'warn', message: 'channel capacity exhausted: billable units stop until a top-up' },
  CHANNEL_RESUMED: { level: 'info', message: 'channel has capacity again: billing resumes' },
  CHANNEL_CLOSED: { level: 'warn', message: 'channel closed, revoked or expired: no more vouchers' },
  BACKLOG_HIGH: { level: 'warn', message: 'outbox backlog is growing (hub unreachable or slow)' },
  BACKLOG_FULL: {
    level: 'error',
    message: 'outbox is full: new units are held in the meter state until the hub acknowledges',
  },
  AGENT_STARTED: { level: 'info', message: 'agent started' },
  SHUTDOWN: { level: 'info', message: 'stop requested: signing pending units, publishing, closing' },
  AGENT_STOPPED: { level: 'info', message: 'agent stopped; the outbox is closed' },
  AGENT_FATAL: { level: 'fatal', message: 'uncaught error; the agent exits' },
  FLUSH_FAILED: { level: 'error', message: 'could not commit vouchers to the outbox; units stay pending' },
} as const satisfies Record<string, { level: LineLevel; message: string }>;

export type AgentCode = keyof typeof AGENT_CODES;
export type LogLevel = LineLevel;

export interface AgentLogEntry {
  readonly level: LogLevel;
  readonly code: AgentCode;
  readonly message: string;
  readonly detail?: string;
}
