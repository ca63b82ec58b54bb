// Where `tally-hub start` takes its settings from, as a daemon does: flags > environment
// (TALLY_HUB_*) > config file (--config FILE or TALLY_HUB_CONFIG, JSON) > defaults. Every key of
// the file is a flag's name in camelCase (--mqtt-tls-listen: "mqttTlsListen"), and every flag has
// its variable (TALLY_HUB_MQTT_TLS_LISTEN). Secrets come from files (--broker-password-file), so
// they appear neither in `ps` nor in the config. This module merges the sources into the
// HubConfigInput that resolveConfig validates; every problem of both is reported at once.
// docs/operations.md documents the table.

import { readFileSync } from 'node:fs';
import { ConfigError, resolveConfig, type HubConfigInput } from '../base/config.js';

type Kind = 'string' | 'int' | 'bool' | 'list' | 'secretFile';

interface Spec {
  readonly kind: Kind;
  /** The HubConfigInput field it sets (a function for the ones that need shaping). */
  readonly to: string | ((input: Record<string, unknown>, value: unknown) => void);
}

const brokerTls = (field: string) => (input: Record<string, unknown>, value: unknown) => {
  input.brokerTls = { ...(input.brokerTls as object), [field]: value };
};

const webhooks = (field: string) => (input: Record<string, unknown>, value: unknown) => {
  input.webhooks = { ...(input.webhooks as object), [field]: value };
};

/** Every option of `tally-hub start`, by its commander name (the flag in camelCase). */
export const START_OPTIONS = {
  data: { kind: 'string', to: 'dataDir' },
  mqttListen: { kind: 'string', to: 'mqttListen' },
  mqttTlsListen: { kind: 'string', to: 'mqttTlsListen' },
  mqttWsListen: { kind: 'string', to: 'mqttWsListen' },
  mqttWssListen: { kind: 'string', to: 'mqttWssListen' },
  tlsCert: { kind: 'string', to: 'tlsCert' },
  tlsKey: { kind: 'string', to: 'tlsKey' },
  tlsCa: { kind: 'string', to: 'tlsCa' },
  httpTlsCert: { kind: 'string', to: 'httpTlsCert' },
  httpTlsKey: { kind: 'string', to: 'httpTlsKey' },
  broker: { kind: 'string', to: 'brokerUrl' },
  partitions: { kind: 'string', to: 'partitions' },
  brokerClientId: { kind: 'string', to: 'brokerClientId' },
  partitionFilters: { kind: 'string', to: 'partitionFilters' },
  brokerUsername: { kind: 'string', to: 'brokerUsername' },
  brokerPassword: { kind: 'string', to: 'brokerPassword' },
  brokerPasswordFile: { kind: 'secretFile', to: 'brokerPassword' },
  brokerCa: { kind: 'string', to: brokerTls('ca') },
  brokerCert: { kind: 'string', to: brokerTls('cert') },
  brokerKey: { kind: 'string', to: brokerTls('key') },
  brokerInsecure: { kind: 'bool', to: (i, v) => brokerTls('rejectUnauthorized')(i, !v) },
  http: { kind: 'string', to: 'http' },
  allowedHost: { kind: 'list', to: 'httpAllowedHosts' },
  readTokenFile: { kind: 'secretFile', to: 'httpReadToken' },
  httpPublicRead: { kind: 'bool', to: 'httpPublicRead' },
  httpRequestsPerSecond: { kind: 'int', to: 'httpRequestsPerSecond' },
  httpMaxPendingPerAddress: { kind: 'int', to: 'httpMaxPendingPerAddress' },
  maxLiveStreams: { kind: 'int', to: 'httpMaxLiveStreams' },
  maxPendingConnects: { kind: 'int', to: 'mqttMaxPending' },
  maxPendingPerAddress: { kind: 'int', to: 'mqttMaxPendingPerAddress' },
  connectsPerSecond: { kind: 'int', to: 'mqttConnectsPerSecond' },
  settleEvery: { kind: 'string', to: 'settleEveryMs' },
  credentialWindow: { kind: 'string', to: 'credentialWindowMs' },
  network: { kind: 'string', to: 'network' },
  cluster: { kind: 'string', to: 'clusterHubId' },
  lease: { kind: 'string', to: 'leaseMs' },
  store: { kind: 'string', to: 'store' },
  storePasswordFile: { kind: 'secretFile', to: 'storePassword' },
  sqliteSynchronous: { kind: 'string', to: 'sqliteSynchronous' },
  verifyWorkers: { kind: 'int', to: 'verifyWorkers' },
  anchorRpc: { kind: 'string', to: 'anchorRpc' },
  anchorKey: { kind: 'string', to: 'anchorKeyFile' },
  anchorContract: { kind: 'string', to: 'anchorContract' },
  anchorBatch: { kind: 'int', to: 'anchorBatchMax' },
  lowCapacity: { kind: 'string', to: webhooks('lowCapacity') },
  offlineAfter: { kind: 'string', to: webhooks('offlineAfterMs') },
  webhookTimeout: { kind: 'string', to: webhooks('timeoutMs') },
  webhookAttempts: { kind: 'int', to: webhooks('maxAttempts') },
  webhookMaxAge: { kind: 'string', to: webhooks('maxAgeMs') },
  webhookConcurrency: { kind: 'int', to: webhooks('concurrency') },
  // The logger's settings: read by the command itself, not part of HubConfigInput.
  logLevel: { kind: 'string', to: () => undefined },
  logFormat: { kind: 'string', to: () => undefined },
  quiet: { kind: 'bool', to: () => undefined },
} as const satisfies Record<string, Spec>;

export type StartOption = keyof typeof START_OPTIONS;

/** TALLY_HUB_ and the flag's name in upper snake case: mqttTlsListen -> TALLY_HUB_MQTT_TLS_LISTEN. */
export const envName = (key: string): string => `TALLY_HUB_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/** TALLY_HUB_CONFIG: the config file, when --config is not given. */
export const CONFIG_ENV = envName('config');
const flagName = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export interface StartSources {
  /** Values given on the command line (not commander's defaults), by option name, and --config. */
  flags: Partial<Record<StartOption | 'config', unknown>>;
  env: Readonly<Record<string, string | undefined>>;
  readFile?: (path: string) => string;
}

export interface StartSettings {
  input: HubConfigInput;
  quiet: boolean;
  /** --log-level and --log-format as given (flag, variable or file); undefined = the default. */
  logLevel: string | undefined;
  logFormat: string | undefined;
  /** Where each value came from ("--http", "TALLY_HUB_HTTP", "hub.json: http"), for the log. */
  from: Record<string, string>;
}

const given = (v: unknown): boolean => v !== undefined && v !== null && v !== '';

/**
 * Merges flags > environment > config file into a HubConfigInput, checks it with resolveConfig,
 * and throws one ConfigError with every problem found, in the sources and in the values.
 */
export function startSettings(sources: StartSources): StartSettings {
  const read = sources.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const problems: string[] = [];
  const configPath = given(sources.flags.config) ? String(sources.flags.config) : sources.env[CONFIG_ENV];
  const file = given(configPath) ? readConfigFile(String(configPath), read, problems) : {};

  const input: Record<string, unknown> = {};
  const from: Record<string, string> = {};
  let quiet = false;
  let logLevel: string | undefined;
  let logFormat: string | undefined;
  for (const [key, spec] of Object.entries(START_OPTIONS) as [StartOption, Spec][]) {
    const env = envName(key);
    let raw: unknown;
    let source: string;
    if (given(sources.flags[key])) [raw, source] = [sources.flags[key], flagName(key)];
    else if (given(sources.env[env])) [raw, source] = [sources.env[env], env];
    else if (file[key] !== undefined) [raw, source] = [file[key], `${String(configPath)}: ${key}`];
    else continue;
    const value = convert(spec.kind, raw, source, read, problems);
    if (value === undefined) continue;
    from[key] = source;
    if (key === 'quiet') quiet = value === true;
    else if (key === 'logLevel') logLevel = String(value);
    else if (key === 'logFormat') logFormat = String(value);
    else if (typeof spec.to === 'string') input[spec.to] = value;
    else spec.to(input, value);
  }
  if (from.brokerPassword && from.brokerPasswordFile) {
    problems.push(`broker password given twice (${from.brokerPassword} and ${from.brokerPasswordFile}): keep one`);
  }
  // resolveConfig's own checks (ranges, addresses, certificates), added to the list.
  try {
    resolveConfig(input as HubConfigInput);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { input: input as HubConfigInput, quiet, logLevel, logFormat, from };
}

function readConfigFile(path: string, read: (p: string) => string, problems: string[]): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(read(path));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    problems.push(
      e instanceof SyntaxError
        ? `config file ${path} is not valid JSON: ${e.message}`
        : `config file ${path} cannot be read: ${e.code ?? e.message}`,
    );
    return {};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`config file ${path} must hold a JSON object`);
    return {};
  }
  for (const key of Object.keys(parsed)) {
    if (!(key in START_OPTIONS)) problems.push(`config file ${path}: unknown option "${key}"`);
  }
  return parsed as Record<string, unknown>;
}

function convert(kind: Kind, value: unknown, source: string, read: (p: string) => string, problems: string[]): unknown {
  const bad = (why: string): undefined => {
    problems.push(`${source} ${why}, got ${JSON.stringify(value)}`);
    return undefined;
  };
  switch (kind) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number') return String(value);
      return bad('must be a string');
    case 'int':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      if (typeof value === 'string' && /^\d{1,15}$/.test(value.trim())) return Number(value);
      return bad('must be a whole number');
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      return bad('must be true or false');
    case 'list':
      if (typeof value === 'string')
        return value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
      return bad('must be a list of strings (comma-separated in a variable)');
    case 'secretFile': {
      if (typeof value !== 'string') return bad('must be a file name');
      try {
        // One trailing newline is the file's, not the secret's (echo secret > file).
        const secret = read(value).replace(/\r?\n$/, '');
        if (secret === '') problems.push(`${source}: ${value} is empty`);
        return secret === '' ? undefined : secret;
      } catch (err) {
        problems.push(`${source}: ${value} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        return undefined;
      }
    }
  }
}
