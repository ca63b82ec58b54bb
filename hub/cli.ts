// tally-hub: a thin commander wrapper. It parses flags, builds the config once (resolveConfig) and
// calls the library: startHub for `start`, Admin (HTTP to a running hub, or the database) for
// management, verifier/verify-file.ts (protocol's verifyBundle, shared with tally-verify) for
// `verify`. The only hub module that touches process.*.

import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { VERSION } from '../common/version.js';
import { ApiError } from './base/api-errors.js';
import { anchorCommand } from './cli/anchor.js';
import { isAnchorError } from './anchor/codes.js';
import { openAdmin } from './cli/admin.js';
import { CHANNEL_COLUMNS, DEVICE_COLUMNS, printBlock, printJson, printTable } from './cli/format.js';
import { ConfigError, DEFAULTS, resolveConfig } from './base/config.js';
import { initDataDir } from './store/datadir.js';
import { parseAmount, parseEnrolBody } from './http/routes.js';
import { startHub } from './server.js';
import { verifyFiles } from '../verifier/verify-file.js';

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
    const args = raw.slice(0, -2).map(String);
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
  .addOption(dataOption())
  .addOption(
    new Option('--mqtt-listen <host:port>', 'embedded broker address').default(DEFAULTS.mqttListen).conflicts('broker'),
  )
  .option(
    '--broker <url>',
    'use an external broker (mqtt:// or mqtts://) instead of the embedded one; the nodes of a clustered broker comma-separated',
  )
  .option(
    '--partitions <set>',
    'external broker: take the uplinks of these partitions only, e.g. 0-127 or 0-31,40 (of 0-255; default all)',
  )
  .option('--store <url>', 'keep the ledger in PostgreSQL (postgres://user@host:5432/db) instead of the data dir')
  .option(
    '--cluster <hub-id>',
    'run as one hub of a cluster sharing --store and --broker: this hub serves the partitions whose leases it holds',
  )
  .option(
    '--lease <duration>',
    `cluster: a partition lease lasts this long without renewal; a dead hub's partitions move after it (default: ${DEFAULTS.leaseMs / 1000}s)`,
  )
  .option('--broker-client-id <id>', 'MQTT client id at the external broker; hubs sharing a broker need distinct ones')
  .option('--broker-username <name>', 'username of the hub at the external broker')
  .option('--broker-password <secret>', 'password of the hub at the external broker')
  .option('--broker-ca <file>', 'CA certificate (PEM) for mqtts://')
  .option('--broker-cert <file>', 'client certificate (PEM) for mqtts://')
  .option('--broker-key <file>', 'client key (PEM) for mqtts://')
  .option('--broker-insecure', 'do not verify the broker certificate (lab use only)')
  .option('--http <host:port>', 'HTTP API address', DEFAULTS.http)
  .option(
    '--allowed-host <name...>',
    'host names the HTTP API answers to besides IP addresses, localhost and the listen address (DNS rebinding guard)',
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
  .addOption(
    new Option('--sqlite-synchronous <mode>', 'SQLite synchronous mode')
      .choices(['FULL', 'NORMAL'])
      .default(DEFAULTS.sqliteSynchronous),
  )
  .option(
    '--verify-workers <n>',
    'threads for Ed25519 signature checks, 0 = on the main thread (default: min(4, cores))',
  )
  .option('--quiet', 'log only warnings and errors')
  .action(async (opts: Opts) => {
    const quiet = Boolean(opts.quiet);
    const hub = await startHub({
      dataDir: String(opts.data),
      mqttListen: String(opts.mqttListen),
      http: String(opts.http),
      ...(opts.broker ? { brokerUrl: String(opts.broker) } : {}),
      ...(opts.partitions !== undefined ? { partitions: String(opts.partitions) } : {}),
      ...(opts.store !== undefined ? { storeUrl: String(opts.store) } : {}),
      ...(opts.cluster !== undefined ? { clusterHubId: String(opts.cluster) } : {}),
      ...(opts.lease !== undefined ? { leaseMs: String(opts.lease) } : {}),
      ...(opts.brokerClientId !== undefined ? { brokerClientId: String(opts.brokerClientId) } : {}),
      ...(opts.brokerUsername ? { brokerUsername: String(opts.brokerUsername) } : {}),
      ...(opts.brokerPassword ? { brokerPassword: String(opts.brokerPassword) } : {}),
      brokerTls: {
        ...(opts.brokerCa ? { ca: String(opts.brokerCa) } : {}),
        ...(opts.brokerCert ? { cert: String(opts.brokerCert) } : {}),
        ...(opts.brokerKey ? { key: String(opts.brokerKey) } : {}),
        rejectUnauthorized: !opts.brokerInsecure,
      },
      ...(opts.settleEvery ? { settleEveryMs: String(opts.settleEvery) } : {}),
      ...(opts.credentialWindow ? { credentialWindowMs: String(opts.credentialWindow) } : {}),
      ...(opts.allowedHost ? { httpAllowedHosts: (opts.allowedHost as string[]).map(String) } : {}),
      httpMaxLiveStreams: Number(opts.maxLiveStreams),
      mqttMaxPending: Number(opts.maxPendingConnects),
      mqttMaxPendingPerAddress: Number(opts.maxPendingPerAddress),
      mqttConnectsPerSecond: Number(opts.connectsPerSecond),
      ...(opts.network ? { network: String(opts.network) } : {}),
      sqliteSynchronous: opts.sqliteSynchronous as 'FULL' | 'NORMAL',
      ...(opts.verifyWorkers !== undefined ? { verifyWorkers: Number(opts.verifyWorkers) } : {}),
      log: (level, message) => {
        if (!quiet || level !== 'info') process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`);
      },
    });
    process.stdout.write(
      `tally-hub ${hub.publicKeyHex}\n  network   ${hub.identity.network}\n  mqtt      ${hub.mqttUrl}\n  http      ${hub.httpUrl}\n  dashboard ${hub.httpUrl}/\n`,
    );
    const stop = (signal: string) => {
      process.stderr.write(`${signal}: committing and stopping\n`);
      hub.close().then(
        () => process.exit(0),
        (err: unknown) => fail(err),
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });

const device = program.command('device').description('enrol, list, show and revoke devices');
device
  .command('add')
  .description('enrol a device and open its channel')
  .addOption(dataOption())
  .addOption(jsonOption())
  .requiredOption('--public-key <hex>', 'device Ed25519 public key (64 hex characters)')
  .requiredOption('--unit <unit>', 'unit of the channel, e.g. Wh, L, KiB, s')
  .requiredOption('--price <minor>', 'price per unit in minor units (integer)')
  .requiredOption('--capacity <minor>', 'most the channel may carry, in minor units (integer)')
  .option('--expires <iso>', 'expiry of the channel, ISO 8601 (default: never)')
  .action(
    manage(
      async (admin, o) => {
        const [request] = parseEnrolBody({
          publicKey: o.publicKey,
          unit: o.unit,
          pricePerUnit: o.price,
          capacity: o.capacity,
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
  .addHelpText(
    'after',
    `
One file: every check of docs/protocol.md clause 8.5; each problem is printed with its code and
the check that failed (e.g. "SIG_INVALID (8.5.31)"). A version-1 bundle verifies with a warning:
its deltas rest on the hub's word, not the device's signatures.
Several files (a customer's bundles of consecutive epochs): each on its own, then together
(clause 8.6): each channel's spans must follow one another, so no unit is billed twice.

Examples:
  tally-hub verify epoch-7.json --hub-key 8a88...
  tally-hub verify epoch-5.json epoch-6.json epoch-7.json --json`,
  )
  .action((files: string[], opts: Opts) => {
    // The same checks and output as the standalone tally-verify.
    const out = verifyFiles(
      files,
      { json: Boolean(opts.json), ...(opts.hubKey ? { hubKey: String(opts.hubKey) } : {}) },
      'tally-hub',
    );
    process.stdout.write(out.stdout);
    process.stderr.write(out.stderr);
    process.exit(out.code);
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

program.addCommand(anchorCommand((code) => process.exit(code)));

program.parseAsync(process.argv).catch(fail);
