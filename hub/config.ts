// Hub configuration flows one way: the CLI (or a test, the benchmark, the simulator) passes a
// partial object, `resolveConfig` merges the defaults, validates every field once and returns a
// frozen result. No other module reads process.env or re-validates.

import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';

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
  /** External broker (mqtt:// or mqtts://). Undefined = run the embedded aedes broker. */
  readonly brokerUrl: string | undefined;
  readonly brokerUsername: string | undefined;
  readonly brokerPassword: string | undefined;
  readonly brokerTls: BrokerTls;
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

export type HubConfigInput = Partial<Omit<HubConfig, 'mqttListen' | 'http' | 'brokerTls' | 'httpAllowedHosts'>> & {
  httpAllowedHosts?: readonly string[];
  mqttListen?: HostPort | string;
  http?: HostPort | string;
  brokerTls?: Partial<BrokerTls>;
};

export class ConfigError extends Error {
  readonly code = 'HUB_CONFIG_INVALID';
}

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
} as const;

/** "HOST:PORT", "[::1]:PORT" or ":PORT" (host defaults to 127.0.0.1). */
export function parseHostPort(text: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  if (!match) throw new ConfigError(`not HOST:PORT: ${text}`);
  const host = match[1] ?? (match[2] || '127.0.0.1');
  const port = Number(match[3]);
  if (port > 65535) throw new ConfigError(`port out of range: ${text}`);
  return { host, port };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "30s", "15m", "1h", "1d", or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new ConfigError(`not a duration (e.g. 30s, 15m, 1h): ${text}`);
  return Number(match[1]) * DURATION_UNITS[match[2] ?? 'ms']!;
}

function nonNegativeInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new ConfigError(`${name} must be an integer >= 0`);
  return value;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(`${name} must be an integer >= 1`);
  return value;
}

const silent = (): void => {};

/** A host name or address for the Host check, lowercased; a port is not part of it. */
function hostName(name: string): string {
  const n = String(name).trim().toLowerCase();
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]{1,253}|[0-9a-f:]+)$/.test(n)) throw new ConfigError(`not a host name: ${name}`);
  return n.startsWith('[') ? n.slice(1, -1) : n;
}

export function resolveConfig(input: HubConfigInput = {}): HubConfig {
  const hostPort = (v: HostPort | string | undefined, d: string): HostPort => {
    if (v === undefined) return parseHostPort(d);
    if (typeof v === 'string') return parseHostPort(v);
    return { host: v.host, port: nonNegativeInt('port', v.port) };
  };
  const brokerUrl = input.brokerUrl;
  if (brokerUrl !== undefined && !/^mqtts?:\/\/[^\s]+$/.test(brokerUrl)) {
    throw new ConfigError(`--broker must be an mqtt:// or mqtts:// URL: ${brokerUrl}`);
  }
  if (input.network !== undefined && !/^[a-z0-9._-]{1,64}$/.test(input.network)) {
    throw new ConfigError('network must be 1-64 characters of [a-z0-9._-] [P-3.1]');
  }
  const synchronous = input.sqliteSynchronous ?? DEFAULTS.sqliteSynchronous;
  if (synchronous !== 'FULL' && synchronous !== 'NORMAL') throw new ConfigError('sqliteSynchronous is FULL or NORMAL');
  const dataDir = input.dataDir ?? DEFAULTS.dataDir;
  const config: HubConfig = {
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(dataDir),
    mqttListen: hostPort(input.mqttListen, DEFAULTS.mqttListen),
    brokerUrl,
    brokerUsername: input.brokerUsername,
    brokerPassword: input.brokerPassword,
    brokerTls: Object.freeze({ rejectUnauthorized: true, ...input.brokerTls }),
    http: hostPort(input.http, DEFAULTS.http),
    settleEveryMs: nonNegativeInt('settleEveryMs', input.settleEveryMs ?? DEFAULTS.settleEveryMs),
    credentialWindowMs: positiveInt('credentialWindowMs', input.credentialWindowMs ?? DEFAULTS.credentialWindowMs),
    mqttMaxPending: positiveInt('mqttMaxPending', input.mqttMaxPending ?? DEFAULTS.mqttMaxPending),
    mqttMaxPendingPerAddress: positiveInt(
      'mqttMaxPendingPerAddress',
      input.mqttMaxPendingPerAddress ?? DEFAULTS.mqttMaxPendingPerAddress,
    ),
    mqttConnectsPerSecond: nonNegativeInt(
      'mqttConnectsPerSecond',
      input.mqttConnectsPerSecond ?? DEFAULTS.mqttConnectsPerSecond,
    ),
    httpMaxLiveStreams: positiveInt('httpMaxLiveStreams', input.httpMaxLiveStreams ?? DEFAULTS.httpMaxLiveStreams),
    httpAllowedHosts: Object.freeze((input.httpAllowedHosts ?? []).map(hostName)),
    reorderWindowMs: positiveInt('reorderWindowMs', input.reorderWindowMs ?? DEFAULTS.reorderWindowMs),
    reorderMaxPerChannel: positiveInt(
      'reorderMaxPerChannel',
      input.reorderMaxPerChannel ?? DEFAULTS.reorderMaxPerChannel,
    ),
    reorderMaxTotal: positiveInt('reorderMaxTotal', input.reorderMaxTotal ?? DEFAULTS.reorderMaxTotal),
    commitMaxSegments: positiveInt('commitMaxSegments', input.commitMaxSegments ?? DEFAULTS.commitMaxSegments),
    commitDelayMs: nonNegativeInt('commitDelayMs', input.commitDelayMs ?? DEFAULTS.commitDelayMs),
    verifyWorkers: nonNegativeInt('verifyWorkers', input.verifyWorkers ?? Math.min(4, availableParallelism())),
    sqliteSynchronous: synchronous,
    rejectionLogLimit: positiveInt('rejectionLogLimit', input.rejectionLogLimit ?? DEFAULTS.rejectionLogLimit),
    network: input.network,
    log: input.log ?? silent,
    now: input.now ?? Date.now,
  };
  return Object.freeze(config);
}
