// tally-hub: a thin commander wrapper. It parses flags, builds the config once (resolveConfig) and
// calls the library: startHub for `start`, Admin (HTTP to a running hub, or the database) for
// management, verifier/verify-file.ts (protocol's verifyBundle, shared with tally-verify) for
// `verify`. The only hub module that touches process.*.

import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { VERSION } from '../common/version.js';
import { ApiError } from './base/api-errors.js';
import { anchorCommand } from './cli/anchor.js';
import { tlsCommand } from './cli/tls.js';
import { isAnchorError } from './anchor/codes.js';
import { openAdmin } from './cli/admin.js';
import { lowCapacityCommand, webhookCommand } from './cli/webhook.js';
import { CHANNEL_COLUMNS, DEVICE_COLUMNS, printBlock, printJson, printTable } from './cli/format.js';
import { ConfigError, DEFAULTS, PARTITION_FILTER_MODES, resolveConfig } from './base/config.js';
import { WEBHOOK_DEFAULTS } from './base/webhook-config.js';
import { EACH_FILTER_LIMIT } from './broker/partition-filters.js';
import { describeNofile, raiseNofileLimit } from '../common/nofile.js';
import { HubLog } from './base/log-codes.js';
import { createLogger, exitOnFatal, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../common/log.js';
import { CONFIG_ENV, START_OPTIONS, startSettings } from './cli/start-config.js';
import { storeUrlHasPassword } from './base/store-config.js';
import { initDataDir } from './store/datadir.js';
import { parseAmount, parseEnrolBody } from './http/routes.js';
import { startHub } from './server.js';
import { verifyFiles } from '../verifier/verify-file.js';
import { anchorLines, checkAnchors } from './cli/verify-anchor.js';

type Opts = Record<string, unknown>;

function fail(err: unknown): never {
  if (err instanceof ApiError || isAnchorError(err)) process.stderr.write(`tally-hub: ${err.code}: ${err.message}\n`);
  else if (err instanceof ConfigError) process.stderr.write(`tally-hub: ${err.message}\n`);
  else process.stderr.write(`tally-hub: ${(err as Error).message ?? String(err)}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}

/** Runs a management command against the running hub or the database, and prints its result. */
function manage(
  action: (admin: Awaited<ReturnType<typeof openAdmin>>, opts: Opts, args: string[]) => Promise<unknown>,
  print: (value: unknown, opts: Opts) => void,
) {
  return async (...raw: unknown[]) => {
    const command = raw[raw.length - 1] as Command;
    const opts = command.optsWithGlobals();
    // An optional argument left out is '' (String(undefined) would be the word "undefined").
    const args = raw.slice(0, -2).map((a) => (a === undefined ? '' : String(a)));
    const admin = await openAdmin(String(opts.data));
    try {
      const value = await action(admin, opts, args);
      if (opts.json) printJson(value);
      else print(value, opts);
    } finally {
      await admin.close();
    }
  };
}

const dataOption = () => new Option('--data <dir>', 'data directory').default(DEFAULTS.dataDir);
const jsonOption = () => new Option('--json', 'print JSON');

const program = new Command('tally-hub')
  .description('Tally hub: ingest signed meter vouchers over MQTT, store them, acknowledge, settle')
  .version(VERSION)
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: false })
  // Usage errors (unknown option or command, missing argument) exit 2 like every Tally command;
  // commander's default is 1, which reads as "the command ran and failed". Subcommands inherit it.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('init')
  .description('create the data dir: hub key (0600), database, admin token; print the hub public key')
  .addOption(dataOption())
  .addOption(jsonOption())
  .option('--network <name>', 'network name in channel records [a-z0-9._-]{1,64} (default: derived from the hub key)')
  .action((opts: Opts) => {
    const config = resolveConfig({
      dataDir: String(opts.data),
      ...(opts.network ? { network: String(opts.network) } : {}),
    });
    const { identity, created } = initDataDir(config.dataDir, config.network ? { network: config.network } : {});
    const out = {
      publicKey: identity.publicKeyHex,
      network: identity.network,
      adminToken: identity.adminToken,
      dataDir: config.dataDir,
      created,
    };
    if (opts.json) printJson(out);
    else printBlock(out);
  });

program
  .command('start')
  .description('run the hub (initialises a fresh data dir)')
  .option('--config <file>', `JSON file of settings, keys as the flags in camelCase (or ${CONFIG_ENV})`)
  .addOption(dataOption())
  .addOption(
    new Option('--mqtt-listen <host:port>', 'embedded broker address').default(DEFAULTS.mqttListen).conflicts('broker'),
  )
  .option('--mqtt-tls-listen <host:port>', 'embedded broker: MQTT over TLS (mqtts://), e.g. 0.0.0.0:8883')
  .option('--mqtt-ws-listen <host:port>', 'embedded broker: MQTT over WebSocket (ws://)')
  .option('--mqtt-wss-listen <host:port>', 'embedded broker: MQTT over WebSocket with TLS (wss://)')
  .option('--tls-cert <file>', 'certificate (PEM) of the TLS listeners (tally-hub tls init makes one)')
  .option('--tls-key <file>', 'private key (PEM) of the TLS listeners')
  .option('--tls-ca <file>', 'require device client certificates issued by this CA (PEM)')
  .option('--http-tls-cert <file>', 'serve the API and dashboard over HTTPS with this certificate (PEM)')
  .option('--http-tls-key <file>', 'private key (PEM) for --http-tls-cert')
  .option(
    '--broker <url>',
    'use an external broker (mqtt:// or mqtts://) instead of the embedded one; the nodes of a clustered broker comma-separated',
  )
  .option(
    '--partitions <set>',
    'external broker: take the uplinks of these partitions only, e.g. 0-127 or 0-31,40 (of 0-255; default all)',
  )
  .addOption(
    new Option(
      '--partition-filters <mode>',
      `external broker: one filter per owned partition (each), one for all with the others dropped here (wildcard), or each up to ${EACH_FILTER_LIMIT} partitions (auto; docs/scale-out.md)`,
    ).choices(PARTITION_FILTER_MODES),
  )
  .option('--broker-client-id <id>', 'MQTT client id at the external broker; hubs sharing a broker need distinct ones')
  .option(
    '--cluster <hub-id>',
    'run as one hub of a cluster sharing a PostgreSQL --store and --broker: this hub serves the partitions whose leases it holds',
  )
  .option(
    '--lease <duration>',
    `cluster: a partition lease lasts this long without renewal; a dead hub's partitions move after it (default: ${DEFAULTS.leaseMs / 1000}s)`,
  )
  .option('--broker-username <name>', 'username of the hub at the external broker')
  .option('--broker-password <secret>', 'password of the hub at the external broker (prefer --broker-password-file)')
  .option('--broker-password-file <file>', 'read that password from a file (one line)')
  .option('--broker-ca <file>', 'CA certificate (PEM) for mqtts://')
  .option('--broker-cert <file>', 'client certificate (PEM) for mqtts://')
  .option('--broker-key <file>', 'client key (PEM) for mqtts://')
  .option('--broker-insecure', 'do not verify the broker certificate (lab use only)')
  .option('--http <host:port>', 'HTTP API address', DEFAULTS.http)
  .option(
    '--allowed-host <name...>',
    'host names the HTTP API answers to besides IP addresses, localhost and the listen address (DNS rebinding guard)',
  )
  .option('--read-token-file <file>', 'a token (16+ characters) that opens the read routes and the dashboard')
  .option(
    '--http-public-read',
    'let anyone who reaches a non-loopback --http address read devices, usage and settlements without a token',
  )
  .option(
    '--http-requests-per-second <n>',
    'API requests per second from one address, bursts of ten seconds allowed; 0 = no limit',
    String(DEFAULTS.httpRequestsPerSecond),
  )
  .option(
    '--http-max-pending-per-address <n>',
    'API requests in progress at once from one address',
    String(DEFAULTS.httpMaxPendingPerAddress),
  )
  .option('--max-live-streams <n>', 'dashboard live streams open at once', String(DEFAULTS.httpMaxLiveStreams))
  .option(
    '--max-pending-connects <n>',
    'embedded broker: connections waiting for their CONNACK, hub-wide',
    String(DEFAULTS.mqttMaxPending),
  )
  .option(
    '--max-pending-per-address <n>',
    'embedded broker: connections waiting for their CONNACK from one address',
    String(DEFAULTS.mqttMaxPendingPerAddress),
  )
  .option(
    '--connects-per-second <n>',
    'embedded broker: new connections per second from one address, bursts of ten seconds allowed; 0 = no limit',
    String(DEFAULTS.mqttConnectsPerSecond),
  )
  .option('--settle-every <duration>', 'close an epoch periodically, e.g. 15m, 1h (default: only on demand)')
  .option(
    '--credential-window <duration>',
    `accepted age of a device broker credential (default: ${DEFAULTS.credentialWindowMs / 3_600_000}h)`,
  )
  .option('--network <name>', 'network name for a fresh data dir')
  .option(
    '--store <url>',
    'where the ledger is: sqlite (hub.db in the data dir) or postgres://USER@HOST:PORT/DB (docs/scale-out.md)',
    'sqlite',
  )
  .option('--store-password-file <file>', 'PostgreSQL password, read from a file (not in the URL, where ps shows it)')
  .addOption(
    new Option('--sqlite-synchronous <mode>', 'SQLite synchronous mode')
      .choices(['FULL', 'NORMAL'])
      .default(DEFAULTS.sqliteSynchronous),
  )
  .option(
    '--verify-workers <n>',
    'threads for Ed25519 signature checks, 0 = on the main thread (default: min(4, cores))',
  )
  .option('--anchor-rpc <url>', "anchor each closed epoch's root on this EVM chain (JSON-RPC, http or https)")
  .option('--anchor-key <file>', 'key file of the anchoring account (tally-hub anchor keygen; mode 0600)')
  .option('--anchor-contract <address>', 'TallyAnchor address (tally-hub anchor deploy)')
  .option('--anchor-batch <n>', 'most epochs per anchoring transaction', String(DEFAULTS.anchorBatchMax))
  .option(
    '--low-capacity <threshold>',
    `webhooks: default channel.low_capacity threshold, minor units (5000), a share (10%) or off (default: ${WEBHOOK_DEFAULTS.lowCapacity})`,
  )
  .option(
    '--offline-after <duration>',
    `webhooks: device.offline once a device stays disconnected this long (default: ${WEBHOOK_DEFAULTS.offlineAfterMs / 60_000}m)`,
  )
  .option(
    '--webhook-timeout <duration>',
    `webhooks: one attempt's limit (default: ${WEBHOOK_DEFAULTS.timeoutMs / 1000}s)`,
  )
  .option(
    '--webhook-attempts <n>',
    `webhooks: attempts before a delivery is a dead letter (default: ${WEBHOOK_DEFAULTS.maxAttempts})`,
  )
  .option(
    '--webhook-max-age <duration>',
    `webhooks: a delivery not through after this long is a dead letter (default: ${WEBHOOK_DEFAULTS.maxAgeMs / 86_400_000}d)`,
  )
  .option(
    '--webhook-concurrency <n>',
    `webhooks: requests in flight at once (default: ${WEBHOOK_DEFAULTS.concurrency}; ${WEBHOOK_DEFAULTS.perSubscription} per subscription)`,
  )
  .addOption(new Option('--log-level <level>', 'least severe log line written').choices(LOG_LEVELS).default('info'))
  .addOption(
    new Option('--log-format <format>', 'auto: readable on a terminal, JSON lines otherwise')
      .choices(LOG_FORMATS)
      .default('auto'),
  )
  .option('--quiet', 'log only warnings and worse (same as --log-level warn)')
  .addHelpText(
    'after',
    `
Every option can also come from the environment, TALLY_HUB_ and its name in upper case
(--mqtt-tls-listen: TALLY_HUB_MQTT_TLS_LISTEN), or from the JSON file of --config, keyed by its
name in camelCase ("mqttTlsListen"). Flags win over the environment, the environment over the
file, the file over the defaults. All problems are listed at once (exit 2).

Logs go to stderr, one line each with a stable "code" field (docs/hub.md, "Logs"); stdout carries
only the start-up summary. Under systemd or in a container (not a terminal) they are JSON lines.

Examples:
  tally-hub start --config /etc/tally-hub/hub.json
  tally-hub tls init --name hub.example.net
  tally-hub start --mqtt-tls-listen 0.0.0.0:8883 --tls-cert tally-hub-data/tls/server.pem \\
    --tls-key tally-hub-data/tls/server-key.pem`,
  )
  .action(async (opts: Opts, command: Command) => {
    // Only what was typed counts as a flag: commander's defaults must not hide the environment
    // or the config file (start-config.ts merges them; resolveConfig applies the defaults).
    const flags: Opts = { config: opts.config };
    for (const key of Object.keys(START_OPTIONS)) {
      if (command.getOptionValueSource(key) === 'cli') flags[key] = opts[key];
    }
    const settings = startSettings({ flags, env: process.env });
    const levelGiven = (settings.logLevel ?? 'info') as LogLevel;
    const format = (settings.logFormat ?? 'auto') as LogFormat;
    if (!LOG_LEVELS.includes(levelGiven)) throw new ConfigError([`log level must be one of ${LOG_LEVELS.join(', ')}`]);
    if (!LOG_FORMATS.includes(format)) throw new ConfigError([`log format must be one of ${LOG_FORMATS.join(', ')}`]);
    const level = settings.quiet && levelGiven === 'info' ? 'warn' : levelGiven;
    // Asynchronous writes: a burst of lines (a refusal flood at debug) does not stall ingest;
    // pino flushes on exit and exitOnFatal before a crash exit.
    const logger = createLogger({ name: 'tally-hub', level, format, sync: false });
    exitOnFatal(logger, 'HUB_FATAL');
    const hubLog = new HubLog(logger);
    if (settings.from.brokerPassword?.startsWith('--')) hubLog.event('BROKER_PASSWORD_VISIBLE');
    if (settings.from.store?.startsWith('--') && storeUrlHasPassword(String(settings.input.store)))
      hubLog.event('STORE_PASSWORD_VISIBLE');
    // Every device is a socket here: the soft limit goes up to the hard one, and both are logged.
    const nofile = raiseNofileLimit();
    const described = describeNofile(nofile);
    hubLog.event(described.level === 'warn' ? 'HUB_DESCRIPTORS_LOW' : 'HUB_DESCRIPTORS', {
      soft: nofile.limit?.soft ?? null,
      hard: nofile.limit?.hard ?? null,
      detail: described.message,
    });
    // A bad flag is a usage error for the person typing (fail() below); anything else that stops
    // the start (a port in use, an unreadable data dir) is a line for the operator's log too.
    const hub = await startHub({ ...settings.input, logger }).catch((err: unknown) => {
      if (!(err instanceof ConfigError)) hubLog.event('HUB_START_FAILED', { err });
      throw err;
    });
    const stop = (signal: string) => {
      hub.config.log.event('HUB_STOPPING', { signal });
      hub.close().then(
        () => process.exit(0),
        (err: unknown) => fail(err),
      );
    };
    // Before the banner: whoever reads it (a supervisor, a test) may signal at once, and until a
    // listener exists SIGTERM's default action kills the process without a clean stop.
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    const mqtt = hub.mqttListeners.length > 0 ? hub.mqttListeners.map((l) => l.url) : [hub.mqttUrl];
    process.stdout.write(
      `tally-hub ${hub.publicKeyHex}\n  network   ${hub.identity.network}\n${mqtt.map((u) => `  mqtt      ${u}\n`).join('')}  http      ${hub.httpUrl}\n  dashboard ${hub.httpUrl}/\n`,
    );
  });

const device = program.command('device').description('enrol, list, show and revoke devices');
device
  .command('add')
  .description('enrol a device and open its channel')
  .addOption(dataOption())
  .addOption(jsonOption())
  .requiredOption('--public-key <hex>', 'device Ed25519 public key (64 hex characters)')
  .requiredOption('--unit <unit>', 'unit of the channel, e.g. Wh, L, KiB, s')
  .requiredOption('--price <amount>', 'price per unit: an integer is minor units, a decimal (0.0003) is in --currency')
  .requiredOption('--capacity <amount>', 'most the channel may carry: minor units, or a decimal in --currency')
  .option('--currency <code>', 'ISO 4217 code (EUR) or CAIP-19 token id; makes a version-2 channel')
  .option('--exponent <n>', 'minor unit = 10^-n of the currency (0..18, default 6 with --currency)')
  .option('--expires <iso>', 'expiry of the channel, ISO 8601 (default: never)')
  .addHelpText(
    'after',
    `
Money is exact. With --currency EUR --exponent 6 a minor unit is EUR 0.000001, so a tariff of
EUR 0.30 per kWh is --unit Wh --price 300, or the same as --price 0.0003. A decimal that is not a
whole number of minor units (0.0000003 at exponent 6) is refused, never rounded. Without
--currency the channel is a version-1 channel: amounts are minor units with no stated currency.

  tally-hub device add --public-key <hex> --unit Wh --currency EUR --price 0.0003 --capacity 50`,
  )
  .action(
    manage(
      async (admin, o) => {
        const [request] = parseEnrolBody({
          publicKey: o.publicKey,
          unit: o.unit,
          pricePerUnit: o.price,
          capacity: o.capacity,
          ...(o.currency !== undefined ? { currency: o.currency } : {}),
          ...(o.exponent !== undefined ? { exponent: o.exponent } : {}),
          ...(o.expires ? { expires: o.expires } : {}),
        });
        const [result] = (await admin.enrol([request!])) as unknown[];
        return result;
      },
      (v) => printBlock(v as Record<string, unknown>),
    ),
  );
device
  .command('list')
  .addOption(dataOption())
  .addOption(jsonOption())
  .action(
    manage(
      (a) => a.listDevices(),
      (v) => printTable(v as Record<string, unknown>[], DEVICE_COLUMNS),
    ),
  );
device
  .command('show <id>')
  .description('a device by public key (hex)')
  .addOption(dataOption())
  .addOption(jsonOption())
  .action(
    manage(
      (a, _o, [id]) => a.showDevice(id!),
      (v) => printBlock(v as Record<string, unknown>),
    ),
  );
device
  .command('revoke <id>')
  .description('refuse the device from now on and disconnect it')
  .addOption(dataOption())
  .addOption(jsonOption())
  .action(
    manage(
      (a, _o, [id]) => a.revoke(id!),
      (v) => printBlock(v as Record<string, unknown>),
    ),
  );

const channel = program.command('channel').description('list, show, top up and close channels');
channel
  .command('list')
  .addOption(dataOption())
  .addOption(jsonOption())
  .action(
    manage(
      (a) => a.listChannels(),
      (v) => printTable(v as Record<string, unknown>[], CHANNEL_COLUMNS),
    ),
  );
channel
  .command('show <id>')
  .description('a channel by id (hex, or a unique prefix of 8+ characters)')
  .addOption(dataOption())
  .addOption(jsonOption())
  .action(
    manage(
      (a, _o, [id]) => a.showChannel(id!),
      (v) => printBlock(v as Record<string, unknown>),
    ),
  );
channel
  .command('topup <id>')
  .description('raise the capacity; an exhausted channel opens again')
  .addOption(dataOption())
  .addOption(jsonOption())
  .requiredOption('--amount <minor>', 'capacity to add, in minor units')
  .action(
    manage(
      (a, o, [id]) => a.topup(id!, parseAmount(o.amount, '--amount', 1n)),
      (v) => printBlock(v as Record<string, unknown>),
    ),
  );
channel
  .command('close <id>')
  .description('accept nothing more on the channel (what was accepted still settles)')
  .addOption(dataOption())
  .addOption(jsonOption())
  .action(
    manage(
      (a, _o, [id]) => a.closeChannel(id!),
      (v) => printBlock(v as Record<string, unknown>),
    ),
  );

/** Commands built on their own take the program's settings (usage errors exit 2), subcommands too. */
const inherit = (cmd: Command): Command => {
  cmd.copyInheritedSettings(program);
  cmd.commands.forEach(inherit);
  return cmd;
};
channel.addCommand(inherit(lowCapacityCommand(manage, dataOption, jsonOption)));

program.addCommand(inherit(webhookCommand(manage, dataOption, jsonOption)));

program
  .command('settle')
  .description('close the current epoch now')
  .addOption(dataOption())
  .addOption(jsonOption())
  .action(
    manage(
      (a) => a.settle(),
      (v) => printBlock(v as Record<string, unknown>),
    ),
  );

program
  .command('export <epoch>')
  .description('write the settlement bundle (JSON) or CSV of an epoch')
  .addOption(dataOption())
  .requiredOption('--out <file>', 'output file')
  .addOption(new Option('--format <format>', 'bundle or csv').choices(['bundle', 'csv']).default('bundle'))
  .option('--channel <ids>', 'bundle only these channels (comma-separated ids)')
  .addOption(jsonOption())
  .action(
    manage(
      async (a, o, [epochText]) => {
        if (!/^\d{1,19}$/.test(epochText!)) throw new ApiError('API_INVALID', 'EPOCH must be a number');
        const epoch = BigInt(epochText!);
        const text =
          o.format === 'csv'
            ? await a.csv(epoch)
            : JSON.stringify(
                await a.bundle(epoch, o.channel ? String(o.channel).toLowerCase().split(',') : undefined),
                null,
                2,
              ) + '\n';
        writeFileSync(String(o.out), text);
        return { epoch: epoch.toString(), format: o.format, out: o.out, bytes: Buffer.byteLength(text) };
      },
      (v) => printBlock(v as Record<string, unknown>),
    ),
  );

program
  .command('verify <file...>')
  .description(
    'check settlement bundles offline: one bundle, or several epochs together (nothing billed twice); exit 0 valid, 1 invalid (reasons printed), 2 unreadable',
  )
  .addOption(jsonOption())
  .option('--hub-key <hex>', 'also require that this hub key signed the epoch')
  .option('--anchor-rpc <url>', "also confirm on this EVM chain's JSON-RPC endpoint that each root is anchored")
  .option('--confirmations <n>', 'with --anchor-rpc: blocks required from the anchoring block to the head', '1')
  .addHelpText(
    'after',
    `
One file: every check of docs/protocol.md clause 8.5; each problem is printed with its code and
the check that failed (e.g. "SIG_INVALID (8.5.31)"). A version-1 bundle verifies with a warning:
its deltas rest on the hub's word, not the device's signatures.
Several files (a customer's bundles of consecutive epochs): each on its own, then together
(clause 8.6): each channel's spans must follow one another, so no unit is billed twice.

With --anchor-rpc (an endpoint you trust, not the hub's), each bundle must also carry an anchor
(format version 3) that the chain confirms: the TallyAnchor code at the contract, the block at the
stated number, and a log there with this epoch's root (docs/settlement.md). A bundle without one,
or whose root the chain does not hold there, is invalid (exit 1) with an ANCHOR_* code.

Examples:
  tally-hub verify epoch-7.json --hub-key 8a88...
  tally-hub verify epoch-7.json --anchor-rpc https://rpc.example --confirmations 12
  tally-hub verify epoch-5.json epoch-6.json epoch-7.json --json`,
  )
  .action(async (files: string[], opts: Opts) => {
    // The same checks and output as the standalone tally-verify.
    const docs: unknown[] = [];
    const read = (f: string) => {
      const text = readFileSync(f === '-' ? 0 : f, 'utf8');
      docs.push(JSON.parse(text) as unknown);
      return text;
    };
    const out = verifyFiles(
      files,
      { json: Boolean(opts.json), ...(opts.hubKey ? { hubKey: String(opts.hubKey) } : {}) },
      'tally-hub',
      read,
    );
    if (opts.anchorRpc === undefined || out.code !== 0) {
      process.stdout.write(out.stdout);
      process.stderr.write(out.stderr);
      process.exit(out.code);
    }
    let url: URL | undefined;
    try {
      url = new URL(String(opts.anchorRpc));
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol)) fail(new ConfigError([`--anchor-rpc must be an http(s) URL`]));
    if (!/^\d{1,6}$/.test(String(opts.confirmations)) || Number(opts.confirmations) < 1)
      fail(new ConfigError(['--confirmations must be an integer >= 1']));
    const checks = await checkAnchors(files, docs, String(opts.anchorRpc), BigInt(String(opts.confirmations)));
    const allConfirmed = checks.every((c) => c.confirmed);
    if (opts.json) {
      const verdict = JSON.parse(out.stdout) as Record<string, unknown>;
      printJson({ ...verdict, valid: allConfirmed, anchors: checks });
    } else process.stdout.write([out.stdout.trimEnd(), ...anchorLines(checks)].join('\n') + '\n');
    process.exit(allConfirmed ? 0 : 1);
  });

program
  .command('rejections')
  .description('refusals by reason code, and the most recent ones')
  .addOption(dataOption())
  .addOption(jsonOption())
  .option('--reason <code>', 'only this reason')
  .option('--limit <n>', 'recent rows to show', '20')
  .action(
    manage(
      (a, o) => a.rejections({ limit: Number(o.limit), ...(o.reason ? { reason: String(o.reason) } : {}) }),
      (v) => {
        const r = v as { counts: Record<string, unknown>[]; recent: Record<string, unknown>[] };
        printTable(r.counts, [
          ['reason', 'REASON'],
          ['events', 'EVENTS'],
          ['vouchers', 'VOUCHERS'],
          ['message', 'MEANING'],
        ]);
        process.stdout.write('\n');
        printTable(r.recent, [
          ['atMs', 'AT_MS'],
          ['stage', 'STAGE'],
          ['reason', 'REASON'],
          ['deviceKey', 'DEVICE'],
          ['seq', 'SEQ'],
          ['detail', 'DETAIL'],
        ]);
      },
    ),
  );

program
  .command('stats')
  .description('fleet totals: devices, accepted and settled amounts, rejections')
  .addOption(dataOption())
  .addOption(jsonOption())
  .action(
    manage(
      (a) => a.stats(),
      (v) => printBlock(v as Record<string, unknown>),
    ),
  );

program.addCommand(tlsCommand());
program.addCommand(anchorCommand((code) => process.exit(code)));

program.parseAsync(process.argv).catch(fail);
