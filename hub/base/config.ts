// Hub configuration flows one way: the CLI (or a test, the benchmark, the simulator) passes a
// partial object, `resolveConfig` merges the defaults, validates every field once and returns a
// frozen result, or throws one ConfigError that lists every problem. No other module reads
// process.env or re-validates.

import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError, ProblemList } from '../../common/config-error.js';
import { NETWORK_PATTERN, PARTITION_COUNT, parsePartitionSet } from '../../protocol/index.js';

export { ConfigError };

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface BrokerTls {
  /** PEM file paths for mqtts:// connections to an external broker. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** Defaults to true; set false only for a lab broker with a self-signed certificate. */
  readonly rejectUnauthorized: boolean;
}

export interface HubConfig {
  /** Data directory: database, hub key, admin token, broker secret, hub.json. */
  readonly dataDir: string;
  /** Embedded broker listen address; ignored when `brokerUrl` is set. */
  readonly mqttListen: HostPort;
  /** External broker (mqtt:// or mqtts://); the nodes of a clustered broker comma-separated, tried
   *  in turn. Undefined = run the embedded aedes broker. */
  readonly brokerUrl: string | undefined;
  /** MQTT client id at an external broker (default `tally-hub-<network>-1` [P-6.2]); hubs sharing
   *  one broker need distinct ones. */
  readonly brokerClientId: string | undefined;
  /** Partitions whose uplinks this hub takes from an external broker [P-6.7], ascending; all 256
   *  by default. The embedded broker always serves every partition. */
  readonly partitions: readonly number[];
  readonly brokerUsername: string | undefined;
  readonly brokerPassword: string | undefined;
  readonly brokerTls: BrokerTls;
  /** postgres://... : the ledger lives in PostgreSQL instead of the data dir's SQLite file. */
  readonly storeUrl: string | undefined;
  /** Cluster mode: this hub's id among the hubs sharing `storeUrl` and `brokerUrl`; it owns the
   *  partitions whose leases it holds (hub/cluster/). Undefined = a single hub owning everything. */
  readonly clusterHubId: string | undefined;
  /** How long a partition lease lasts without renewal (cluster mode). */
  readonly leaseMs: number;
  /** HTTP API listen address; port 0 picks a free port (tests). */
  readonly http: HostPort;
  /** Close an epoch every this many ms; 0 = only on demand. */
  readonly settleEveryMs: number;
  /** How far a broker credential's issuedAtMs may be from the hub clock [P-6.4]. */
  readonly credentialWindowMs: number;
  /** Embedded broker: connections waiting for their CONNACK, hub-wide and per source address, and
   *  new connections per second per source address (0 = no rate limit; a burst of ten seconds'
   *  worth is allowed). Beyond them a connection is closed at once (HUB_CONNECT_LIMIT,
   *  HUB_CONNECT_RATE); a device retries with its backoff. */
  readonly mqttMaxPending: number;
  readonly mqttMaxPendingPerAddress: number;
  readonly mqttConnectsPerSecond: number;
  /** Dashboard live streams (server-sent events) open at once; more get 503 API_BUSY. */
  readonly httpMaxLiveStreams: number;
  /** Host names the HTTP API answers to besides its listen address and localhost (a Host header
   *  naming anything else is refused, against DNS rebinding). */
  readonly httpAllowedHosts: readonly string[];
  /** How long an out-of-order segment may wait for the gap before it to fill [P-5.3]. */
  readonly reorderWindowMs: number;
  /** Most segments waiting per channel, and in the whole hub. */
  readonly reorderMaxPerChannel: number;
  readonly reorderMaxTotal: number;
  /** Group commit: flush once this many segments are pending (or at the end of the I/O turn). */
  readonly commitMaxSegments: number;
  /** Extra wait before a commit to gather more segments; 0 = commit at the end of the I/O turn. */
  readonly commitDelayMs: number;
  /** Worker threads checking device signatures; 0 = on the main thread. The default is one per
   *  core (at most 4), not cores - 1: the main thread mostly waits, and on 2 cores a second worker
   *  raised one-signature ingest from about 9,500 to about 13,000 vouchers/s (bench/hub-ingest.ts)
   *  while costing segments of 64 under a tenth. */
  readonly verifyWorkers: number;
  /** SQLite synchronous mode; FULL by default because a receipt promises durability. */
  readonly sqliteSynchronous: 'FULL' | 'NORMAL';
  /** Recent rejection rows kept for inspection (counts are kept forever). */
  readonly rejectionLogLimit: number;
  /** Network name used in new channel records [P-3.1]; only used when a data dir is created. */
  readonly network: string | undefined;
  /** Logger; defaults to silent so embedding code (tests, simulator) stays quiet. */
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** The hub clock (ms since the epoch): expiry, credential window, timestamps. Tests and the
   *  simulator may pass their own. */
  readonly now: () => number;
}

export type HubConfigInput = Partial<
  Omit<
    HubConfig,
    | 'mqttListen'
    | 'http'
    | 'brokerTls'
    | 'settleEveryMs'
    | 'credentialWindowMs'
    | 'httpAllowedHosts'
    | 'partitions'
    | 'leaseMs'
  >
> & {
  httpAllowedHosts?: readonly string[];
  mqttListen?: HostPort | string;
  http?: HostPort | string;
  brokerTls?: Partial<BrokerTls>;
  /** `all`, a set as the CLI takes it (`0-31,40`), or the partition numbers. */
  partitions?: string | readonly number[];
  /** Milliseconds, or a duration as the CLI takes it ("15m"). */
  settleEveryMs?: number | string;
  credentialWindowMs?: number | string;
  leaseMs?: number | string;
};

/** The defaults of `tally-hub start`, in one table: the CLI shows them, resolveConfig applies them. */
export const DEFAULTS = {
  dataDir: './tally-hub-data',
  mqttListen: '127.0.0.1:1883',
  http: '127.0.0.1:8080',
  settleEveryMs: 0,
  credentialWindowMs: 24 * 60 * 60 * 1000,
  mqttMaxPending: 1_000,
  mqttMaxPendingPerAddress: 128,
  mqttConnectsPerSecond: 50,
  httpMaxLiveStreams: 100,
  reorderWindowMs: 2_000,
  reorderMaxPerChannel: 64,
  reorderMaxTotal: 100_000,
  commitMaxSegments: 2_000,
  commitDelayMs: 0,
  sqliteSynchronous: 'FULL',
  rejectionLogLimit: 10_000,
  leaseMs: 6_000,
} as const;

/** Signature worker threads by default: one per core, at most 4 (HubConfig.verifyWorkers says why). */
export const defaultVerifyWorkers = (): number => Math.min(4, availableParallelism());

/** "HOST:PORT", "[::1]:PORT" or ":PORT" (host defaults to 127.0.0.1). */
export function parseHostPort(text: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  if (!match) throw new ConfigError([`not HOST:PORT: ${text}`]);
  const host = match[1] ?? (match[2] || '127.0.0.1');
  const port = Number(match[3]);
  if (port > 65535) throw new ConfigError([`port out of range: ${text}`]);
  return { host, port };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "30s", "15m", "1h", "1d", or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new ConfigError([`not a duration (e.g. 30s, 15m, 1h): ${text}`]);
  return Number(match[1]) * DURATION_UNITS[match[2] ?? 'ms']!;
}

const silent = (): void => {};

/** A host name or address for the Host check, lowercased; a port is not part of it. */
function hostName(name: string): string {
  const n = String(name).trim().toLowerCase();
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]{1,253}|[0-9a-f:]+)$/.test(n)) throw new ConfigError([`not a host name: ${name}`]);
  return n.startsWith('[') ? n.slice(1, -1) : n;
}

export function resolveConfig(input: HubConfigInput = {}): HubConfig {
  const problems = new ProblemList();
  const int = (name: string, value: number, min: 0 | 1): number => {
    if (!Number.isSafeInteger(value) || value < min) problems.add(`${name} must be an integer >= ${min}`);
    return value;
  };
  const duration = (name: string, value: number | string, min: 0 | 1): number =>
    int(name, typeof value === 'string' ? problems.attempt(() => parseDuration(value), min) : value, min);
  const hostPort = (v: HostPort | string | undefined, d: string): HostPort => {
    const fallback = { host: '127.0.0.1', port: 0 };
    if (v === undefined) return problems.attempt(() => parseHostPort(d), fallback);
    if (typeof v === 'string') return problems.attempt(() => parseHostPort(v), fallback);
    return { host: v.host, port: int('port', v.port, 0) };
  };
  const brokerUrl = input.brokerUrl;
  if (brokerUrl !== undefined && !brokerUrl.split(',').every((u) => /^mqtts?:\/\/[^\s,]+$/.test(u.trim()))) {
    problems.add(`--broker must be an mqtt:// or mqtts:// URL, or several comma-separated: ${brokerUrl}`);
  }
  if (input.brokerClientId !== undefined && !/^tally-hub-[A-Za-z0-9._-]{1,100}$/.test(input.brokerClientId)) {
    problems.add(`--broker-client-id must be tally-hub- followed by [A-Za-z0-9._-] [P-6.2]: ${input.brokerClientId}`);
  }
  let partitions: number[] = Array.from({ length: PARTITION_COUNT }, (_, i) => i);
  if (typeof input.partitions === 'string') {
    const parsed = parsePartitionSet(input.partitions);
    if (parsed.ok) partitions = parsed.value;
    else problems.add(`--partitions: ${parsed.error}`);
  } else if (input.partitions !== undefined) {
    const parsed = parsePartitionSet(input.partitions.length > 0 ? input.partitions.join(',') : '');
    if (parsed.ok) partitions = parsed.value;
    else problems.add(`partitions: ${parsed.error}`);
  }
  if (brokerUrl === undefined && partitions.length !== PARTITION_COUNT) {
    problems.add('--partitions needs --broker: the embedded broker serves every partition');
  }
  if (input.storeUrl !== undefined && !/^postgres(ql)?:\/\/\S+$/.test(input.storeUrl)) {
    problems.add(`--store must be a postgres:// URL: ${input.storeUrl}`);
  }
  if (input.clusterHubId !== undefined) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(input.clusterHubId))
      problems.add(`--cluster must be 1-64 characters of [A-Za-z0-9._-]: ${input.clusterHubId}`);
    if (input.storeUrl === undefined)
      problems.add('--cluster needs --store postgres://...: the hubs share one database');
    if (brokerUrl === undefined) problems.add('--cluster needs --broker: the hubs share one broker');
    if (input.partitions !== undefined) problems.add('--cluster and --partitions exclude each other: leases decide');
  }
  if (input.network !== undefined && !NETWORK_PATTERN.test(input.network)) {
    problems.add('network must be 1-64 characters of [a-z0-9._-] [P-3.1]');
  }
  const synchronous = input.sqliteSynchronous ?? DEFAULTS.sqliteSynchronous;
  if (synchronous !== 'FULL' && synchronous !== 'NORMAL') problems.add('sqliteSynchronous is FULL or NORMAL');
  const dataDir = input.dataDir ?? DEFAULTS.dataDir;
  const config: HubConfig = {
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(dataDir),
    mqttListen: hostPort(input.mqttListen, DEFAULTS.mqttListen),
    brokerUrl,
    brokerClientId: input.brokerClientId,
    partitions: Object.freeze(partitions),
    brokerUsername: input.brokerUsername,
    brokerPassword: input.brokerPassword,
    brokerTls: Object.freeze({ rejectUnauthorized: true, ...input.brokerTls }),
    storeUrl: input.storeUrl,
    clusterHubId: input.clusterHubId,
    leaseMs: duration('leaseMs', input.leaseMs ?? DEFAULTS.leaseMs, 1),
    http: hostPort(input.http, DEFAULTS.http),
    settleEveryMs: duration('settleEveryMs', input.settleEveryMs ?? DEFAULTS.settleEveryMs, 0),
    credentialWindowMs: duration('credentialWindowMs', input.credentialWindowMs ?? DEFAULTS.credentialWindowMs, 1),
    mqttMaxPending: int('mqttMaxPending', input.mqttMaxPending ?? DEFAULTS.mqttMaxPending, 1),
    mqttMaxPendingPerAddress: int(
      'mqttMaxPendingPerAddress',
      input.mqttMaxPendingPerAddress ?? DEFAULTS.mqttMaxPendingPerAddress,
      1,
    ),
    mqttConnectsPerSecond: int(
      'mqttConnectsPerSecond',
      input.mqttConnectsPerSecond ?? DEFAULTS.mqttConnectsPerSecond,
      0,
    ),
    httpMaxLiveStreams: int('httpMaxLiveStreams', input.httpMaxLiveStreams ?? DEFAULTS.httpMaxLiveStreams, 1),
    httpAllowedHosts: Object.freeze((input.httpAllowedHosts ?? []).map((n) => problems.attempt(() => hostName(n), ''))),
    reorderWindowMs: int('reorderWindowMs', input.reorderWindowMs ?? DEFAULTS.reorderWindowMs, 1),
    reorderMaxPerChannel: int('reorderMaxPerChannel', input.reorderMaxPerChannel ?? DEFAULTS.reorderMaxPerChannel, 1),
    reorderMaxTotal: int('reorderMaxTotal', input.reorderMaxTotal ?? DEFAULTS.reorderMaxTotal, 1),
    commitMaxSegments: int('commitMaxSegments', input.commitMaxSegments ?? DEFAULTS.commitMaxSegments, 1),
    commitDelayMs: int('commitDelayMs', input.commitDelayMs ?? DEFAULTS.commitDelayMs, 0),
    verifyWorkers: int('verifyWorkers', input.verifyWorkers ?? defaultVerifyWorkers(), 0),
    sqliteSynchronous: synchronous,
    rejectionLogLimit: int('rejectionLogLimit', input.rejectionLogLimit ?? DEFAULTS.rejectionLogLimit, 1),
    network: input.network,
    log: input.log ?? silent,
    now: input.now ?? Date.now,
  };
  problems.throwIfAny();
  return Object.freeze(config);
}
