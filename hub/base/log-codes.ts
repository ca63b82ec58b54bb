// The hub's log codes: every line the hub writes carries one in its `code` field. Lines about a
// refused message carry the refusal's reason code instead (protocol/errors.ts [P-9] and
// hub/base/reasons.ts), with the same meaning as in metrics and `tally-hub rejections`.
// docs/hub.md ("Logs") lists this table; test/hub/log-codes.test.ts fails if the two drift apart,
// in either direction, or if a hub source logs a code that is in neither table.

import { REASONS, type ReasonCode } from '../../protocol/index.js';
import { CodedLog, silentLogger, type LineLevel, type LogFields, type Logger } from '../../common/log.js';
import { HUB_REASONS, type HubReasonCode } from './reasons.js';

export const HUB_LOG_CODES = {
  HUB_STARTED: { level: 'info', message: 'hub started' },
  HUB_LISTENING: { level: 'info', message: 'accepting devices and API requests' },
  HUB_STOPPING: { level: 'info', message: 'stop requested: committing pending segments and stopping' },
  HUB_STOPPED: { level: 'info', message: 'hub stopped; everything acknowledged is committed' },
  HUB_START_FAILED: { level: 'fatal', message: 'the hub could not start' },
  HUB_FATAL: { level: 'fatal', message: 'uncaught error; the hub exits' },
  DEVICE_CONNECTED: { level: 'debug', message: 'a device connected to the embedded broker' },
  DEVICE_DISCONNECTED: { level: 'debug', message: 'a device left the embedded broker' },
  EPOCH_SETTLED: { level: 'info', message: 'periodic settlement closed an epoch' },
  SETTLE_FAILED: { level: 'error', message: 'periodic settlement failed; nothing was written' },
  EPOCH_ANCHORED: { level: 'info', message: 'epoch roots published on the anchoring chain and mined' },
  ANCHOR_ATTEMPT_FAILED: { level: 'warn', message: 'anchoring: one attempt failed; the publisher retries' },
  ANCHOR_FAILED: { level: 'error', message: 'anchoring a run of epochs failed; retried after a backoff' },
  BROKER_PASSWORD_VISIBLE: {
    level: 'warn',
    message: '--broker-password is visible to every user of this machine (ps): use --broker-password-file',
  },
  STORE_PASSWORD_VISIBLE: {
    level: 'warn',
    message: 'the --store URL holds a password that every user of this machine sees (ps): use --store-password-file',
  },
  BROKER_LINK_ERROR: { level: 'warn', message: 'external broker: connection error' },
  BROKER_LINK_LOST: { level: 'warn', message: 'external broker: connection lost, reconnecting' },
  BROKER_SUBSCRIBE_FAILED: { level: 'error', message: 'external broker: subscribing to the uplinks failed' },
  BROKER_PUBLISH_FAILED: { level: 'warn', message: 'external broker: publishing to a device failed' },
  COMMIT_RELOAD_FAILED: {
    level: 'error',
    message: 'after a refused group commit, reloading its channels from the store failed',
  },
  REJECTION_PRUNE_FAILED: { level: 'warn', message: 'pruning the rejection log failed; tried again later' },
  HISTORY_MISSING: { level: 'error', message: 'a stored voucher the chain needs is missing from the database' },
  HTTP_INTERNAL: { level: 'error', message: 'an HTTP request failed unexpectedly (a bug); answered 500' },
  DASHBOARD_SAMPLE_FAILED: {
    level: 'warn',
    message: 'a dashboard sample failed (the store did not answer); the chart skips that second',
  },
  WEBHOOK_DEAD_LETTER: { level: 'warn', message: 'a webhook delivery used its retry budget and is a dead letter' },
  WEBHOOK_LOOP_FAILED: { level: 'error', message: 'the webhook delivery loop could not read the outbox' },
  WEBHOOK_RECORD_FAILED: {
    level: 'error',
    message: 'a webhook attempt could not be recorded; the delivery is sent again after its lease',
  },
  WEBHOOK_OFFLINE_CHECK_FAILED: { level: 'error', message: 'device.offline events could not be written' },
  HUB_DESCRIPTORS: { level: 'info', message: 'file-descriptor limits of the hub process' },
  HUB_DESCRIPTORS_LOW: {
    level: 'warn',
    message: 'the file-descriptor limit could not be raised or is below what is needed',
  },
  HUB_OUT_OF_DESCRIPTORS: { level: 'error', message: 'out of file descriptors: new connections are refused' },
  HUB_DESCRIPTORS_AVAILABLE: { level: 'info', message: 'file descriptors available again' },
  SERVER_ERROR: { level: 'error', message: 'a listening socket failed' },
  VERIFY_WORKER_EXITED: {
    level: 'error',
    message: 'a signature-check worker thread ended; the checks it held are sent again by their devices',
  },
  CLUSTER_JOINED: { level: 'info', message: 'cluster mode: taking partition leases' },
  PARTITION_GAINED: {
    level: 'info',
    message: 'a partition lease was taken, its devices loaded and sent RESYNC (devices: how many)',
  },
  PARTITION_LOST: {
    level: 'warn',
    message: 'a partition lease was lost: its state dropped, nothing more acknowledged',
  },
  PARTITION_RELEASED: { level: 'info', message: 'a partition lease was given back after flushing' },
  LEASE_PROBLEM: { level: 'warn', message: 'partition leases: a renewal, release or load did not go through' },
  CONTROL_NOT_APPLIED: { level: 'error', message: "another hub's management change could not be applied here" },
  CONTROL_LISTEN_PROBLEM: {
    level: 'warn',
    message: 'the control-plane listener lost its connection or got a bad payload',
  },
  CONTROL_NOT_ANNOUNCED: { level: 'warn', message: 'a management write is committed but the other hubs were not told' },
} as const satisfies Record<string, { level: LineLevel; message: string }>;

export type HubLogCode = keyof typeof HUB_LOG_CODES;

/** The hub's logger: its own codes with `event`, refusals with their reason code with `reason`. */
export class HubLog extends CodedLog<HubLogCode> {
  constructor(logger: Logger = silentLogger()) {
    super(logger, HUB_LOG_CODES);
  }

  reason(level: LineLevel, code: ReasonCode | HubReasonCode, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const message =
      code in HUB_REASONS ? HUB_REASONS[code as HubReasonCode].message : REASONS[code as ReasonCode].message;
    this.line(level, code, message, fields);
  }
}
