// Hub configuration flows one way: the CLI (or a test, the benchmark, the simulator) passes a
// partial object, `resolveConfig` merges the defaults, validates every field once and returns a
// frozen result, or throws one ConfigError that lists every problem. No other module reads
// process.env or re-validates.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError, ProblemList } from '../../common/config-error.js';
import { NETWORK_PATTERN, PARTITION_COUNT, parsePartitionSet } from '../../protocol/index.js';
import { resolveWebhookConfig, type WebhookConfig } from './webhook-config.js';
import type { Logger } from '../../common/log.js';
import { HubLog } from './log-codes.js';
import { resolveStoreConfig, type StoreConfig } from './store-config.js';

export { ConfigError };

/** How a hub subscribes to its partitions at an external broker: hub/broker/partition-filters.ts. */
export type PartitionFilters = 'auto' | 'each' | 'wildcard';
export const PARTITION_FILTER_MODES: readonly PartitionFilters[] = ['auto', 'each', 'wildcard'];

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

/** Anchoring each closed epoch's root on an EVM chain (docs/settlement.md); all three or none. */
export interface AnchorConfig {
  /** JSON-RPC endpoint, http(s). */
  readonly rpcUrl: string;
  /** File of the anchoring account's secp256k1 key (mode 0600). */
  readonly keyFile: string;
  /** TallyAnchor address (`tally-hub anchor deploy`). */
  readonly contract: `0x${string}`;
  /** Most epochs per anchoring transaction. */
  readonly batchMax: number;
}

/** PEM text read from the files given; `ca` only where client certificates are required. */
export interface ServerTlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

export interface HubConfig {
  /** Data directory: database, hub key, admin token, broker secret, hub.json. */
  readonly dataDir: string;
  /** Embedded broker listen address; ignored when `brokerUrl` is set. */
  readonly mqttListen: HostPort;
  /** Embedded broker: MQTT over TLS, MQTT over WebSocket, and over WebSocket with TLS. */
  readonly mqttTlsListen: HostPort | undefined;
  readonly mqttWsListen: HostPort | undefined;
  readonly mqttWssListen: HostPort | undefined;
  /** Certificate and key of the embedded broker's TLS listeners (--tls-cert, --tls-key), and the
   *  CA that device client certificates must chain to (--tls-ca; none = no client certificate). */
  readonly tls: ServerTlsFiles | undefined;
  /** HTTPS for the API and dashboard (--http-tls-cert, --http-tls-key). */
  readonly httpTls: ServerTlsFiles | undefined;
  /** External broker (mqtt:// or mqtts://); the nodes of a clustered broker comma-separated, tried
   *  in turn. Undefined = run the embedded aedes broker. */
  readonly brokerUrl: string | undefined;
  /** MQTT client id at an external broker (default `tally-hub-<network>-1` [P-6.2]); hubs sharing
   *  one broker need distinct ones. */
  readonly brokerClientId: string | undefined;
  /** Partitions whose uplinks this hub takes from an external broker [P-6.7], ascending; all 256
   *  by default. The embedded broker always serves every partition. */
  readonly partitions: readonly number[];
  /** How the hub subscribes to its partitions' uplinks at the external broker (partition-filters.ts). */
  readonly partitionFilters: PartitionFilters;
  readonly brokerUsername: string | undefined;
  readonly brokerPassword: string | undefined;
  readonly brokerTls: BrokerTls;
  /** Cluster mode: this hub's id among the hubs sharing the PostgreSQL `store` and `brokerUrl`; it owns the
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
  /** A token that opens every read route (the admin token opens them too). Reads need one of
   *  them whenever this is set or the HTTP listener is not a loopback address. */
  readonly httpReadToken: string | undefined;
  /** Reads open to anyone who reaches the port, even off loopback: the operator said so. */
  readonly httpPublicRead: boolean;
  /** API requests per second from one source address (a burst of ten seconds' worth is allowed),
   *  and requests in progress from one address; beyond them 429 API_RATE_LIMITED. 0 = no rate. */
  readonly httpRequestsPerSecond: number;
  readonly httpMaxPendingPerAddress: number;
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
  /** Where the ledger is: the data directory's SQLite file (default) or PostgreSQL (--store). */
  readonly store: StoreConfig;
  /** SQLite synchronous mode; FULL by default because a receipt promises durability. */
  readonly sqliteSynchronous: 'FULL' | 'NORMAL';
  /** Recent rejection rows kept for inspection (counts are kept forever). */
  readonly rejectionLogLimit: number;
  /** Network name used in new channel records [P-3.1]; only used when a data dir is created. */
  readonly network: string | undefined;
  /** Coded structured logs (hub/base/log-codes.ts) on the pino logger given as `logger`; silent
   *  without one, so embedding code (tests, simulator) stays quiet. */
  readonly log: HubLog;
  /** Anchoring of epoch roots; undefined = epochs are not anchored. */
  readonly anchor: AnchorConfig | undefined;
  /** The hub clock (ms since the epoch): expiry, credential window, timestamps. Tests and the
   *  simulator may pass their own. */
  readonly now: () => number;
  /** Webhook events and their delivery (docs/webhooks.md). */
  readonly webhooks: WebhookConfig;
}

export type HubConfigInput = Partial<
  Omit<
    HubConfig,
    | 'mqttListen'
    | 'mqttTlsListen'
    | 'mqttWsListen'
    | 'mqttWssListen'
    | 'tls'
    | 'httpTls'
    | 'http'
    | 'brokerTls'
    | 'settleEveryMs'
    | 'credentialWindowMs'
    | 'httpAllowedHosts'
    | 'partitions'
    | 'leaseMs'
    | 'log'
    | 'anchor'
    | 'webhooks'
    | 'partitions'
    | 'store'
    | 'partitionFilters'
  >
> & {
  /** "sqlite" (the default) or a postgres:// URL. */
  store?: string;
  /** The PostgreSQL password (--store-password-file); wins over one in the URL. */
  storePassword?: string;
  /** A pino logger (common/log.ts createLogger); its level decides what is written. */
  logger?: Logger;
  /** Durations in milliseconds or as the CLI takes them ("5m"). */
  webhooks?: Partial<{
    [K in keyof WebhookConfig]: WebhookConfig[K] extends number ? number | string : WebhookConfig[K];
  }>;
  httpAllowedHosts?: readonly string[];
  mqttListen?: HostPort | string;
  mqttTlsListen?: HostPort | string;
  mqttWsListen?: HostPort | string;
  mqttWssListen?: HostPort | string;
  /** PEM file paths. */
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  httpTlsCert?: string;
  httpTlsKey?: string;
  http?: HostPort | string;
  brokerTls?: Partial<BrokerTls>;
  /** `all`, a set as the CLI takes it (`0-31,40`), or the partition numbers. */
  partitions?: string | readonly number[];
  /** `auto` (default), `each` or `wildcard`. */
  partitionFilters?: string;
  /** Milliseconds, or a duration as the CLI takes it ("15m"). */
  settleEveryMs?: number | string;
  anchorRpc?: string;
  anchorKeyFile?: string;
  anchorContract?: string;
  anchorBatchMax?: number;
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
  httpRequestsPerSecond: 100,
  httpMaxPendingPerAddress: 64,
  reorderWindowMs: 2_000,
  reorderMaxPerChannel: 64,
  reorderMaxTotal: 100_000,
  commitMaxSegments: 2_000,
  commitDelayMs: 0,
  sqliteSynchronous: 'FULL',
  rejectionLogLimit: 10_000,
  leaseMs: 6_000,
  anchorBatchMax: 64,
} as const;

function anchorConfig(input: HubConfigInput, problems: ProblemList): AnchorConfig | undefined {
  const given = [input.anchorRpc, input.anchorKeyFile, input.anchorContract].filter((v) => v !== undefined);
  if (given.length === 0) return undefined;
  if (given.length < 3) {
    problems.add('anchoring needs --anchor-rpc, --anchor-key and --anchor-contract together');
    return undefined;
  }
  let url: URL | undefined;
  try {
    url = new URL(input.anchorRpc!);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    problems.add(`--anchor-rpc must be an http(s) URL of an EVM JSON-RPC endpoint: ${input.anchorRpc}`);
  if (!/^0x[0-9a-fA-F]{40}$/.test(input.anchorContract!))
    problems.add(`--anchor-contract must be 0x and 40 hex digits: ${input.anchorContract}`);
  const batchMax = input.anchorBatchMax ?? DEFAULTS.anchorBatchMax;
  if (!Number.isSafeInteger(batchMax) || batchMax < 1 || batchMax > 1024)
    problems.add('anchorBatchMax must be an integer 1..1024');
  return Object.freeze({
    rpcUrl: input.anchorRpc!,
    keyFile: input.anchorKeyFile!,
    contract: input.anchorContract!.toLowerCase() as `0x${string}`,
    batchMax,
  });
}

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

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^::ffff:/, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

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
  const optionalHostPort = (v: HostPort | string | undefined): HostPort | undefined =>
    v === undefined ? undefined : hostPort(v, '');
  const pem = (flag: string, path: string | undefined): string | undefined => {
    if (path === undefined) return undefined;
    try {
      const text = readFileSync(path, 'utf8');
      if (!text.includes('-----BEGIN ')) problems.add(`${flag} ${path} is not a PEM file`);
      return text;
    } catch (err) {
      problems.add(`${flag} ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return undefined;
    }
  };
  const mqttTlsListen = optionalHostPort(input.mqttTlsListen);
  const mqttWsListen = optionalHostPort(input.mqttWsListen);
  const mqttWssListen = optionalHostPort(input.mqttWssListen);
  const tlsCert = pem('--tls-cert', input.tlsCert);
  const tlsKey = pem('--tls-key', input.tlsKey);
  const tlsCa = pem('--tls-ca', input.tlsCa);
  const secureListener = mqttTlsListen ?? mqttWssListen;
  if (secureListener && (input.tlsCert === undefined || input.tlsKey === undefined)) {
    problems.add('--mqtt-tls-listen and --mqtt-wss-listen need --tls-cert and --tls-key');
  }
  if (!secureListener && (input.tlsCert ?? input.tlsKey ?? input.tlsCa) !== undefined) {
    problems.add('--tls-cert, --tls-key and --tls-ca serve --mqtt-tls-listen or --mqtt-wss-listen; give one');
  }
  if (input.brokerUrl !== undefined && (mqttTlsListen ?? mqttWsListen ?? mqttWssListen)) {
    problems.add('--broker (an external broker) and the embedded listeners (--mqtt-*-listen) exclude each other');
  }
  const httpTlsCert = pem('--http-tls-cert', input.httpTlsCert);
  const httpTlsKey = pem('--http-tls-key', input.httpTlsKey);
  if ((input.httpTlsCert === undefined) !== (input.httpTlsKey === undefined)) {
    problems.add('--http-tls-cert and --http-tls-key must be given together');
  }
  const brokerUrl = input.brokerUrl;
  if (brokerUrl !== undefined && !brokerUrl.split(',').every((u) => /^mqtts?:\/\/[^\s,]+$/.test(u.trim()))) {
    problems.add(
      brokerUrl.includes(',')
        ? `--broker must be mqtt:// or mqtts:// URLs, comma-separated: ${brokerUrl}`
        : `--broker must be an mqtt:// or mqtts:// URL: ${brokerUrl}`,
    );
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
  const partitionFilters = (input.partitionFilters ?? 'auto') as PartitionFilters;
  if (!PARTITION_FILTER_MODES.includes(partitionFilters)) {
    problems.add(`--partition-filters must be one of ${PARTITION_FILTER_MODES.join(', ')}: ${input.partitionFilters}`);
  }
  if (brokerUrl === undefined && partitions.length !== PARTITION_COUNT) {
    problems.add('--partitions needs --broker: the embedded broker serves every partition');
  }
  if (input.clusterHubId !== undefined) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(input.clusterHubId))
      problems.add(`--cluster must be 1-64 characters of [A-Za-z0-9._-]: ${input.clusterHubId}`);
    if (input.store === undefined || input.store === 'sqlite')
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
    mqttTlsListen,
    mqttWsListen,
    mqttWssListen,
    tls:
      secureListener && tlsCert !== undefined && tlsKey !== undefined
        ? Object.freeze({ cert: tlsCert, key: tlsKey, ...(tlsCa !== undefined ? { ca: tlsCa } : {}) })
        : undefined,
    httpTls:
      httpTlsCert !== undefined && httpTlsKey !== undefined
        ? Object.freeze({ cert: httpTlsCert, key: httpTlsKey })
        : undefined,
    brokerUrl,
    brokerClientId: input.brokerClientId,
    partitions: Object.freeze(partitions),
    partitionFilters,
    brokerUsername: input.brokerUsername,
    brokerPassword: input.brokerPassword,
    brokerTls: Object.freeze({ rejectUnauthorized: true, ...input.brokerTls }),
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
    httpReadToken: input.httpReadToken,
    httpPublicRead: input.httpPublicRead ?? false,
    httpRequestsPerSecond: int(
      'httpRequestsPerSecond',
      input.httpRequestsPerSecond ?? DEFAULTS.httpRequestsPerSecond,
      0,
    ),
    httpMaxPendingPerAddress: int(
      'httpMaxPendingPerAddress',
      input.httpMaxPendingPerAddress ?? DEFAULTS.httpMaxPendingPerAddress,
      1,
    ),
    httpAllowedHosts: Object.freeze((input.httpAllowedHosts ?? []).map((n) => problems.attempt(() => hostName(n), ''))),
    reorderWindowMs: int('reorderWindowMs', input.reorderWindowMs ?? DEFAULTS.reorderWindowMs, 1),
    reorderMaxPerChannel: int('reorderMaxPerChannel', input.reorderMaxPerChannel ?? DEFAULTS.reorderMaxPerChannel, 1),
    reorderMaxTotal: int('reorderMaxTotal', input.reorderMaxTotal ?? DEFAULTS.reorderMaxTotal, 1),
    commitMaxSegments: int('commitMaxSegments', input.commitMaxSegments ?? DEFAULTS.commitMaxSegments, 1),
    commitDelayMs: int('commitDelayMs', input.commitDelayMs ?? DEFAULTS.commitDelayMs, 0),
    verifyWorkers: int('verifyWorkers', input.verifyWorkers ?? defaultVerifyWorkers(), 0),
    store: resolveStoreConfig(input.store, input.storePassword, problems),
    sqliteSynchronous: synchronous,
    rejectionLogLimit: int('rejectionLogLimit', input.rejectionLogLimit ?? DEFAULTS.rejectionLogLimit, 1),
    network: input.network,
    anchor: anchorConfig(input, problems),
    log: new HubLog(input.logger),
    now: input.now ?? Date.now,
    webhooks: resolveWebhookConfig(input.webhooks as Partial<WebhookConfig> | undefined, problems, duration),
  };
  if (!isLoopback(config.http.host) && config.httpReadToken === undefined && !config.httpPublicRead) {
    problems.add(
      `--http ${config.http.host}:${config.http.port} is not a loopback address, so reads need a token there: ` +
        'give --read-token-file FILE (or use the admin token), or --http-public-read to let anyone who reaches the port read',
    );
  }
  if (config.httpReadToken !== undefined && config.httpReadToken.length < 16) {
    problems.add('the read token must be at least 16 characters');
  }
  problems.throwIfAny();
  return Object.freeze(config);
}
