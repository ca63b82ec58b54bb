// tally-sim: drives a fleet of virtual meters through the real agent code against a hub, then
// proves conservation. Exit codes: 0 conservation holds, 1 it does not (channels named), 2 usage.
import { Command, InvalidArgumentError } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { AGENT_DEFAULTS } from '../agent/defaults.js';
import { VERSION } from '../common/version.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../common/log.js';
import { UsageError, describeFaults, parseFaults } from './faults.js';
import { clusterAvailable } from './cluster-target.js';
import { chooseBroker, type BrokerChoice } from './broker-choice.js';
import { brokerMissing } from './cluster-broker.js';
import { renderHtml } from './html.js';
import { formatReport, reportToJson } from './report.js';
import { describeNofile, raiseNofileLimit } from '../common/nofile.js';
import { DEVICES_PER_FLEET_PROCESS } from './fleet-plan.js';
import { DESCRIPTOR_MARGIN, WORKER_THRESHOLD, runSimulation } from './run.js';
import { parseBrokerList } from './brokers.js';

const EXIT_OK = 0;
const EXIT_CONSERVATION_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_RUN_FAILED = 3;

function integer(min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || n < min || n > max)
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

function positive(raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 1_000_000) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

/** Writes a report to a file, or to stdout for "-" (the usual Unix spelling). */
function output(file: string, text: string): void {
  if (file === '-') process.stdout.write(text);
  else writeFileSync(file, text);
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** The defaults of `tally-sim run`; a virtual meter signs and sends as the agent does by default. */
const SIM_DEFAULTS = {
  devices: 100,
  rate: 1,
  duration: 10,
  seed: 1,
  batch: AGENT_DEFAULTS.batch,
  batchMs: AGENT_DEFAULTS.batchMs,
  window: AGENT_DEFAULTS.window,
  drainTimeout: 120,
  fleetNice: 10,
} as const;

const program = new Command()
  .name('tally-sim')
  .description('Fleet simulator: load-tests a Tally hub and proves conservation (signed = accepted = settled).')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));

program
  .command('run')
  .description('run a fleet of virtual meters against an embedded (default) or a running hub')
  .option(
    '--devices <n>',
    'number of virtual meters, each with its own key, outbox and MQTT connection',
    integer(1, 100_000),
    SIM_DEFAULTS.devices,
  )
  .option('--rate <units/s>', 'units per second per device', positive, SIM_DEFAULTS.rate)
  .option('--duration <seconds>', 'how long the fleet produces units', integer(1, 86_400), SIM_DEFAULTS.duration)
  .option(
    '--seed <n>',
    'seed for every random choice (keys, arrivals, faults): same seed, same run',
    integer(0, 2 ** 32 - 1),
    SIM_DEFAULTS.seed,
  )
  .option('--poisson', 'Poisson arrivals instead of a constant rate')
  .option('--batch <n>', 'vouchers per signed segment', integer(1, 1024), SIM_DEFAULTS.batch)
  .option('--batch-ms <ms>', 'sign a partial segment after this long', integer(10, 600_000), SIM_DEFAULTS.batchMs)
  .option(
    '--window <n>',
    'segments in flight per device before waiting for receipts',
    integer(1, 1024),
    SIM_DEFAULTS.window,
  )
  .option(
    '--workers <n>',
    `fleet processes (0 = beside the hub in this process; default: 1 from ${WORKER_THRESHOLD} devices, one more per ${DEVICES_PER_FLEET_PROCESS}; never fewer than the descriptor limit allows)`,
    integer(0, 16),
  )
  .option(
    '--fleet-nice <n>',
    'scheduling priority of the fleet processes, 0-19 (nice): the fleet stands for devices with CPUs of their own, so on a shared machine it yields to the hub it measures; 0 shares the CPU equally',
    integer(0, 19),
    SIM_DEFAULTS.fleetNice,
  )
  .option(
    '--drain-timeout <seconds>',
    'longest wait for the last receipts after production stops',
    integer(1, 3600),
    SIM_DEFAULTS.drainTimeout,
  )
  .option(
    '--hubs <n>',
    'run against an embedded cluster of N hubs (PostgreSQL, a broker node, N tally-hub processes); needs PostgreSQL installed',
    integer(1, 16),
  )
  .option(
    '--broker-nodes <n>',
    "with --hubs, the cluster's MQTT broker: 1 = one aedes node inside tally-sim (default: lightest, but it holds a socket per device in this process, and broker-node-down is an outage); 3, 5 or 7 = a nats-server cluster in its own processes (needs nats-server installed; broker-node-down SIGKILLs one node and devices fail over to the others); 2 to 7 with --broker-engine mosquitto",
    integer(1, 7),
  )
  .option(
    '--broker-engine <engine>',
    'with --hubs, the broker software: aedes (1 node), nats (3, 5 or 7 nodes, sessions replicated) or mosquitto (2 to 7 nodes bridged to the first; sessions start fast, but are not shared: the one for 20,000 devices on one machine). Default: aedes for 1 node, nats for more; mosquitto defaults to 3 nodes',
  )
  .option(
    '--broker <url>',
    'MQTT broker of a running hub; the nodes of a clustered broker comma-separated (default: start an embedded hub and broker)',
  )
  .option('--hub-api <url>', 'HTTP API of that hub, e.g. http://127.0.0.1:8080')
  .option('--admin-token <token>', "that hub's admin token (to enrol the fleet and settle)")
  .option('--tls-ca <file>', 'CA certificate (PEM) of that broker, for mqtts:// and wss:// (tally-hub tls init)')
  .option(
    '--fault <kind=value>',
    'inject a fault; repeatable. disconnect=P, kill-agent=P (per device per second), duplicate=P, reorder=P, tamper=P, replay=P (per segment), broker-restart=SECONDS (embedded hub only), clock-skew=SECONDS (largest offset), kill-hub=SECONDS and broker-node-down=SECONDS (--hubs)',
    collect,
    [],
  )
  .option('--json <file>', 'write the report as JSON (money as decimal strings); - for stdout')
  .option('--html <file>', 'write a self-contained HTML report with charts; - for stdout')
  .option('--quiet', 'print only the final report (no progress line, no log lines)')
  .option(
    '--log-level <level>',
    `the embedded hub's log on stderr (docs/hub.md, "Logs"): ${LOG_LEVELS.join(' | ')} (default: error, silent with --quiet)`,
    (v: string) => {
      if (!(LOG_LEVELS as readonly string[]).includes(v))
        throw new InvalidArgumentError(`expected ${LOG_LEVELS.join(', ')}`);
      return v;
    },
  )
  .addHelpText(
    'after',
    `
Examples:
  tally-sim run --devices 500 --duration 20
  tally-sim run --devices 50 --fault tamper=0.05 --fault kill-agent=0.01 --json report.json
  tally-sim run --devices 10 --quiet --json - | jq .units
  tally-sim run --hubs 3 --fault kill-hub=15 --fault broker-node-down=20
  tally-sim run --hubs 3 --broker-nodes 3 --devices 30 --fault broker-node-down=20
                            # 3 hubs on PostgreSQL, a 3-node nats-server cluster, a node
                            # killed every 20 s (large fleets: docs/scale-out.md)
  tally-sim run --hubs 3 --broker-engine mosquitto --devices 20000 --batch-ms 10000
                            # 3 Mosquitto nodes bridged: the largest fleet on one machine
  tally-sim run --broker mqtt://127.0.0.1:1883 --hub-api http://127.0.0.1:8080 --admin-token TOKEN
  tally-sim run --broker mqtt://n1:1883,mqtt://n2:1883,mqtt://n3:1883 --hub-api http://hub:8080 \\
    --admin-token TOKEN     # a clustered broker: devices spread over the nodes

Exit status: 0 when every channel conserves (signed = accepted = settled, nothing lost or
doubled, bundles verified offline); 1 when not, naming the channels; 2 for bad usage;
3 when the run itself could not complete (for example, the hub could not be reached).
With --json - (or --html -) stdout carries only that document and the readable report goes
to stderr.`,
  )
  .action(async (opts) => {
    let faults;
    let tlsCa: string | undefined;
    let clusterBroker: BrokerChoice | undefined;
    try {
      faults = parseFaults(opts.fault);
      const remoteParts = [opts.broker, opts.hubApi, opts.adminToken].filter((x) => x !== undefined).length;
      if (remoteParts !== 0 && remoteParts !== 3)
        throw new UsageError('a running hub needs all three of --broker, --hub-api and --admin-token');
      if (opts.broker !== undefined) {
        const brokers = parseBrokerList(opts.broker);
        if (!brokers.ok) throw new UsageError(brokers.error);
      }
      if (opts.json === '-' && opts.html === '-') throw new UsageError('--json - and --html - cannot both use stdout');
      if (opts.hubs !== undefined && remoteParts > 0)
        throw new UsageError('--hubs starts its own cluster; it does not go with --broker, --hub-api, --admin-token');
      if (opts.hubs !== undefined && faults['broker-restart'] !== undefined)
        throw new UsageError('--hubs: use --fault broker-node-down (the cluster has no embedded broker to restart)');
      if (faults['kill-hub'] !== undefined && (opts.hubs ?? 0) < 2)
        throw new UsageError('--fault kill-hub needs --hubs 2 or more (one hub stays up to serve the run)');
      if (faults['broker-node-down'] !== undefined && opts.hubs === undefined)
        throw new UsageError('--fault broker-node-down needs --hubs');
      if ((opts.brokerNodes !== undefined || opts.brokerEngine !== undefined) && opts.hubs === undefined)
        throw new UsageError(
          '--broker-nodes and --broker-engine are the broker of the embedded cluster: they need --hubs',
        );
      if (opts.hubs !== undefined) {
        const chosen = chooseBroker(opts.brokerNodes, opts.brokerEngine);
        if (!chosen.ok) throw new UsageError(chosen.error);
        const missing = brokerMissing(chosen.choice);
        if (missing) throw new UsageError(missing);
        clusterBroker = chosen.choice;
      }
      if (opts.hubs !== undefined && !clusterAvailable())
        throw new UsageError('--hubs needs PostgreSQL (initdb, postgres) installed, or TALLY_PG_BIN');
      if (opts.tlsCa !== undefined && remoteParts !== 3)
        throw new UsageError('--tls-ca is for the broker of a running hub');
      if (opts.tlsCa !== undefined) tlsCa = readPem(opts.tlsCa);
      if (remoteParts === 3 && faults['broker-restart'] !== undefined) {
        throw new UsageError(
          '--fault broker-restart restarts the embedded broker; it cannot restart the broker of a running hub',
        );
      }
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      console.error(`tally-sim: ${err.message}`);
      process.exit(EXIT_USAGE);
    }
    const log = (m: string) => {
      if (!opts.quiet) console.error(`tally-sim: ${m}`);
    };
    log(
      `${opts.devices} devices x ${opts.rate} units/s for ${opts.duration} s, faults: ${describeFaults(faults)}, seed ${opts.seed}`,
    );
    // The soft descriptor limit goes up to the hard one (fleet processes inherit it). An embedded
    // hub holds a socket per device in this process; a warning is printed even with --quiet.
    const nofile = raiseNofileLimit();
    // A remote broker or a NATS cluster holds the devices' sockets in processes of its own.
    const brokerHere = !opts.broker && (clusterBroker?.kind ?? 'aedes') === 'aedes';
    const described = describeNofile(nofile, brokerHere ? opts.devices + DESCRIPTOR_MARGIN : undefined);
    if (described.level === 'warn') console.error(`tally-sim: ${described.message}`);
    else log(described.message);
    const report = await runSimulation({
      devices: opts.devices,
      ratePerDevice: opts.rate,
      durationS: opts.duration,
      seed: opts.seed,
      arrivals: opts.poisson ? 'poisson' : 'constant',
      faults,
      ...(opts.hubs !== undefined ? { hubs: opts.hubs } : {}),
      ...(clusterBroker !== undefined ? { clusterBroker } : {}),
      remote: opts.broker
        ? {
            brokerUrl: opts.broker,
            hubApi: opts.hubApi,
            adminToken: opts.adminToken,
            ...(tlsCa ? { tlsCa } : {}),
          }
        : undefined,
      batch: opts.batch,
      batchMs: opts.batchMs,
      window: opts.window,
      drainTimeoutS: opts.drainTimeout,
      workers: opts.workers ?? (opts.devices >= WORKER_THRESHOLD ? 1 : 0),
      autoWorkers: opts.workers === undefined,
      fleetNice: opts.fleetNice,
      descriptorLimit: nofile.limit,
      ...(opts.quiet ? {} : { progress: process.stderr }),
      log,
      logger: createLogger({
        name: 'tally-sim',
        level: (opts.logLevel ?? (opts.quiet ? 'silent' : 'error')) as LogLevel,
        sync: true,
      }),
    });
    // stdout holds one document: the readable report, or the JSON/HTML one asked for with "-".
    const toStdout = opts.json === '-' || opts.html === '-';
    (toStdout ? process.stderr : process.stdout).write(`${formatReport(report)}\n`);
    if (opts.json) output(opts.json, `${reportToJson(report)}\n`);
    if (opts.html) output(opts.html, renderHtml(report));
    process.exitCode = report.ok ? EXIT_OK : EXIT_CONSERVATION_FAILED;
  });

/** A PEM file, or a usage error naming it. */
function readPem(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--tls-ca ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--tls-ca ${file} is not a PEM certificate`);
  return text;
}

await program.parseAsync(process.argv).catch((err: Error) => {
  console.error(`tally-sim: the run could not complete: ${err.message}`);
  process.exit(EXIT_RUN_FAILED);
});
