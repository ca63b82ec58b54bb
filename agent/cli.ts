// tally-agent: a thin command-line wrapper around the Agent library. This is the only agent module
// that touches process.env, signals and the exit code.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { VERSION } from '../common/version.js';
import { toHex } from '../protocol/index.js';
import { Agent } from './agent.js';
import { systemClock } from './clock.js';
import { AGENT_CODES, type AgentCode, type AgentLogEntry } from './codes.js';
import { redactUrl } from '../common/redact-url.js';
import { createLogger, exitOnFatal, LOG_FORMATS, LOG_LEVELS, type Logger } from '../common/log.js';
import { ConfigError, resolveConfig, type AgentCommand, type AgentConfig } from './config.js';
import { ensureDeviceKey, KeyFileError, loadDeviceKey, OUTBOX_FILE, privateDataDir } from './keys.js';
import { createMeterSource } from './meter/index.js';
import { openOutboxDatabase, openSqliteOutbox } from './outbox/sqlite.js';
import { formatStatus, readStatus, toJson } from './status-report.js';

function configFor(command: AgentCommand, opts: Record<string, unknown>): AgentConfig {
  return resolveConfig(command, { flags: opts, env: process.env });
}

function fail(err: unknown): never {
  if (err instanceof ConfigError) process.stderr.write(`tally-agent: ${err.message}\n`);
  else if (err instanceof KeyFileError) process.stderr.write(`tally-agent: ${err.message}\n`);
  else process.stderr.write(`tally-agent: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}

function init(opts: Record<string, unknown>): void {
  const config = configFor('init', opts);
  const { keyPair, created } = ensureDeviceKey(config.data);
  const db = openOutboxDatabase(join(config.data, OUTBOX_FILE));
  openSqliteOutbox(db, toHex(keyPair.publicKey)).load(); // creates the schema now, not on first run
  db.close();
  const publicKey = toHex(keyPair.publicKey);
  if (config.json) process.stdout.write(`${toJson({ publicKey, data: config.data, created })}\n`);
  else {
    process.stdout.write(`${created ? 'created' : 'existing'} device key in ${config.data}\n`);
    process.stdout.write(`public key (enrol this on the hub): ${publicKey}\n`);
  }
}

function status(opts: Record<string, unknown>): void {
  const config = configFor('status', opts);
  const { keyPair } = loadDeviceKey(config.data);
  const path = join(config.data, OUTBOX_FILE);
  if (!existsSync(path)) throw new KeyFileError('KEY_MISSING', `no outbox at ${path}: run \`tally-agent init\` first`);
  const db = openOutboxDatabase(path);
  try {
    const report = readStatus(openSqliteOutbox(db, toHex(keyPair.publicKey)));
    process.stdout.write(`${config.json ? toJson(report) : formatStatus(report)}\n`);
  } finally {
    db.close();
  }
}

async function run(opts: Record<string, unknown>): Promise<void> {
  const config = configFor('run', opts);
  const { keyPair, looseMode } = loadDeviceKey(config.data);
  const logger = createLogger({
    name: 'tally-agent',
    level: config.logLevel,
    // --json (or TALLY_AGENT_JSON) has always meant JSON log lines for `run`.
    format: config.json ? 'json' : config.logFormat,
    // Synchronous: a line is written before the agent goes on, so a power cut or a SIGKILL loses
    // none already logged. An agent logs a few lines an hour; the cost is nil.
    sync: true,
  }).child({ device: toHex(keyPair.publicKey) });
  exitOnFatal(logger, 'AGENT_FATAL');
  const print = (e: AgentLogEntry): void => writeEntry(logger, e);
  const event = (code: AgentCode, detail?: string): void =>
    print({ level: AGENT_CODES[code].level, code, message: AGENT_CODES[code].message, ...(detail ? { detail } : {}) });
  if (looseMode) event('KEY_PERMISSIONS', 'chmod 600 the key file');
  privateDataDir(config.data);
  const db = openOutboxDatabase(join(config.data, OUTBOX_FILE));
  const tls =
    config.tlsCa === undefined && config.tlsCert === undefined
      ? undefined
      : {
          ...(config.tlsCa ? { ca: readFileSync(config.tlsCa) } : {}),
          ...(config.tlsCert ? { cert: readFileSync(config.tlsCert) } : {}),
          ...(config.tlsKey ? { key: readFileSync(config.tlsKey) } : {}),
        };
  const crashAt = config.crashAt;
  const agent = new Agent({
    keyPair,
    hubKey: config.hubKey!,
    store: openSqliteOutbox(db, toHex(keyPair.publicKey)),
    // process.stdin is touched only for the stdin meter: opening it otherwise can hold a terminal.
    meter: createMeterSource(config.meter, {
      clock: systemClock,
      pollMs: config.pollMs,
      ...(config.meter.kind === 'stdin' ? { stdin: process.stdin } : {}),
    }),
    broker: { url: config.broker!, ...(tls ? { tls } : {}) },
    batch: config.batch,
    batchMs: config.batchMs,
    meterStaleMs: config.meterStaleMs,
    meterFrozenMs: config.meterFrozenMs,
    window: config.window,
    maxBacklog: config.maxBacklog,
    ackTimeoutMs: config.ackTimeoutMs,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    // Test-only (TALLY_AGENT_CRASH_AT): die like a power cut, with no cleanup at all.
    ...(crashAt
      ? {
          onCrashPoint: (p, n) => {
            if (p === crashAt.point && n === crashAt.nth) process.kill(process.pid, 'SIGKILL');
          },
        }
      : {}),
  });
  agent.on('log', print);
  // The agent's timers do not hold the event loop (a simulator runs thousands); the CLI does.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    event('SHUTDOWN', signal);
    agent.stop().then(
      () => {
        db.close();
        clearInterval(keepAlive);
        event('AGENT_STOPPED');
      },
      (err: unknown) => {
        print({ level: 'error', code: 'FLUSH_FAILED', message: 'shutdown failed', detail: String(err) });
        db.close();
        clearInterval(keepAlive);
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  agent.start();
  // The meter's kind only: its spec may hold a password (mqtt://user:secret@broker/topic).
  logger.info(
    { code: 'AGENT_STARTED', version: VERSION, broker: redactUrl(config.broker!), meter: config.meter.kind },
    AGENT_CODES.AGENT_STARTED.message,
  );
}

/** One agent entry as one pino line: its code, the table's message, the detail if any. */
function writeEntry(logger: Logger, e: AgentLogEntry): void {
  if (!logger.isLevelEnabled(e.level)) return;
  logger[e.level](e.detail === undefined ? { code: e.code } : { code: e.code, detail: e.detail }, e.message);
}

const program = new Command('tally-agent')
  .description('Tally device agent: meters usage into signed vouchers and streams them to the hub')
  .version(VERSION)
  // Usage errors exit 2 (commander's default is 1), as docs/agent.md says; subcommands inherit it.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

const common = (cmd: Command): Command =>
  cmd
    .option('--data <dir>', 'data directory (device key and outbox)')
    .option('--config <file>', 'JSON config file')
    .option('--json', 'machine-readable output');

common(
  program.command('init').description('create the device key (mode 0600) and the outbox; print the public key'),
).action((opts: Record<string, unknown>) => {
  try {
    init(opts);
  } catch (err) {
    fail(err);
  }
});

common(program.command('status').description('channel, balance left, outbox depth, last receipt')).action(
  (opts: Record<string, unknown>) => {
    try {
      status(opts);
    } catch (err) {
      fail(err);
    }
  },
);

const runCmd = common(program.command('run').description('meter, sign and stream vouchers to the hub'))
  .option(
    '--broker <url>',
    'MQTT broker URL (mqtt://, mqtts://, ws://, wss://); the nodes of a clustered broker comma-separated, tried in turn',
  )
  .option('--hub-key <hex>', "the hub's public key (64 hex characters)")
  .option('--meter <spec>', 'meter source (see "Meter specs" below)')
  .option('--batch <n>', 'sign a segment every N vouchers')
  .option('--batch-ms <ms>', 'or every MS milliseconds, whichever comes first')
  .option('--poll-ms <ms>', 'poll period of file:, exec:, Modbus and prometheus: meters')
  .option('--meter-stale-ms <ms>', 'report the meter stale after this long without a reading (0 = never)')
  .option('--meter-frozen-ms <ms>', 'report the meter frozen when its counter has not moved this long (0 = never)')
  .option('--window <n>', 'segments in flight without a receipt')
  .option('--max-backlog <n>', 'outbox vouchers before new units are held back')
  .option('--ack-timeout-ms <ms>', 're-send unacknowledged segments after this long')
  .option('--reconnect-min-ms <ms>', 'first reconnect backoff ceiling')
  .option('--reconnect-max-ms <ms>', 'largest reconnect backoff ceiling')
  .option('--tls-ca <file>', 'CA certificate (PEM)')
  .option('--tls-cert <file>', 'client certificate (PEM)')
  .option('--tls-key <file>', 'client key (PEM)')
  .option('--log-level <level>', LOG_LEVELS.join(' | '))
  .option('--log-format <format>', `${LOG_FORMATS.join(' | ')} (auto: readable on a terminal, JSON lines otherwise)`)
  .addHelpText(
    'after',
    `
Meter specs (quote them: ? & { # are special to the shell):
  sim:RATE                      synthetic counter, RATE units/s (default sim:1)
  file:PATH | exec:CMD | stdin  a cumulative counter as text, one reading per poll or line
  modbus-tcp://HOST[:PORT]/UNIT/REGISTER[?type=float32&order=ABCD&scale=1000&fc=4]
  modbus-rtu:/dev/ttyUSB0?unit=1&register=0x0048[&type=..&baud=9600&parity=none&stopbits=1]
  sdm630:/dev/ttyUSB0 | sdm630://GATEWAY[:PORT][/UNIT]   Eastron SDM630 total import, in Wh
  mqtt://[USER:PASS@]BROKER/TOPIC[?path=ENERGY.Total&scale=1000]   JSON over MQTT
  prometheus:http://HOST:9100/metrics#METRIC{label="value"}[?scale=S]

Examples:
  tally-agent run --broker mqtts://hub.example.net:8883 --hub-key <hex> --meter sdm630:/dev/ttyUSB0
  tally-agent run ... --meter 'mqtt://127.0.0.1/tele/tasmota_A1B2C3/SENSOR?path=ENERGY.Total&scale=1000'
  tally-agent run ... --meter 'mqtt://127.0.0.1/shellyplusplugs-a8032ab12345/status/switch:0?path=aenergy.total'
Full reference: docs/agent.md, "Meter sources".`,
  );
runCmd.action((opts: Record<string, unknown>) => {
  run(opts).catch(fail);
});

program.parseAsync(process.argv).catch(fail);
