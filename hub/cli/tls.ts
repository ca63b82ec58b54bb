// `tally-hub tls ...`: a site's own small PKI for the embedded broker's TLS listeners and the
// HTTPS API. `init` makes a CA (kept for later, its key 0600) and a server certificate for the
// names the devices use; run again, it keeps the CA and issues a fresh server certificate (a
// renewal, or new names), so devices that trust the CA need nothing new. `client` issues a device
// a client certificate, for a broker started with --tls-ca. Usage errors throw ConfigError.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, DEFAULTS } from '../base/config.js';
import { issueCertificate, validAltName } from '../base/x509.js';
import { printBlock, printJson } from './format.js';

type Opts = Record<string, unknown>;

export const TLS_FILES = {
  ca: 'ca.pem',
  caKey: 'ca-key.pem',
  server: 'server.pem',
  serverKey: 'server-key.pem',
} as const;

const CA_NAME = 'Tally site CA';

function days(text: unknown, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > 36_500) throw new ConfigError([`${flag} must be 1-36500 days`]);
  return n;
}

function tlsDir(opts: Opts): string {
  return resolve(opts.dir ? String(opts.dir) : join(String(opts.data), 'tls'));
}

/** The site CA in `dir`, made the first time. */
function siteCa(dir: string, caDays: number): { certificatePem: string; keyPem: string; created: boolean } {
  const certPath = join(dir, TLS_FILES.ca);
  const keyPath = join(dir, TLS_FILES.caKey);
  if (existsSync(certPath) && existsSync(keyPath)) {
    return { certificatePem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8'), created: false };
  }
  if (existsSync(certPath) || existsSync(keyPath))
    throw new ConfigError([`${dir} holds only one of ${TLS_FILES.ca} and ${TLS_FILES.caKey}; move it away first`]);
  const ca = issueCertificate({ role: 'ca', commonName: CA_NAME, days: caDays });
  writeFileSync(keyPath, ca.keyPem, { mode: 0o600 });
  writeFileSync(certPath, ca.certificatePem, { mode: 0o644 });
  return { ...ca, created: true };
}

function issueFrom(
  ca: { certificatePem: string; keyPem: string },
  role: 'server' | 'client',
  commonName: string,
  altNames: string[],
  validDays: number,
) {
  return issueCertificate({
    role,
    commonName,
    altNames,
    days: validDays,
    issuer: { certificatePem: ca.certificatePem, key: createPrivateKey(ca.keyPem), commonName: CA_NAME },
  });
}

export function tlsCommand(): Command {
  const tls = new Command('tls').description("the site's own CA and certificates for TLS on the broker and the API");

  tls
    .command('init')
    .description('create the site CA (once) and a server certificate for the given names; print the flags to use')
    .addOption(new Option('--data <dir>', 'data directory (the files go to DATA/tls)').default(DEFAULTS.dataDir))
    .option('--dir <dir>', 'write the files here instead of DATA/tls')
    .option(
      '--name <host...>',
      'DNS names and IP addresses devices use to reach the hub (default: localhost, 127.0.0.1, ::1 and this host name)',
    )
    .option('--days <n>', 'validity of the server certificate', '825')
    .option('--ca-days <n>', 'validity of a new CA', '3650')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Files (PEM): ca.pem (give it to each device: tally-agent --tls-ca ca.pem), ca-key.pem (0600, keep
it here), server.pem and server-key.pem (0600) for tally-hub start --tls-cert/--tls-key.

Example:
  tally-hub tls init --name hub.example.net --name 192.168.1.10
  tally-hub start --mqtt-tls-listen 0.0.0.0:8883 \\
    --tls-cert tally-hub-data/tls/server.pem --tls-key tally-hub-data/tls/server-key.pem`,
    )
    .action((opts: Opts) => {
      const names = opts.name ? (opts.name as string[]).map(String) : ['localhost', '127.0.0.1', '::1', hostname()];
      const bad = names.filter((n) => !validAltName(n));
      const serverDays = days(opts.days, '--days');
      const caDays = days(opts.caDays, '--ca-days');
      if (bad.length > 0) throw new ConfigError(bad.map((n) => `--name ${n} is not a host name or IP address`));
      const dir = tlsDir(opts);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const ca = siteCa(dir, caDays);
      const server = issueFrom(ca, 'server', names[0]!, names, serverDays);
      writeFileSync(join(dir, TLS_FILES.serverKey), server.keyPem, { mode: 0o600 });
      writeFileSync(join(dir, TLS_FILES.server), server.certificatePem, { mode: 0o644 });
      const f = (name: string) => join(dir, name);
      const out = {
        dir,
        caCreated: ca.created,
        ca: f(TLS_FILES.ca),
        caSha256: new X509Certificate(ca.certificatePem).fingerprint256,
        serverCertificate: f(TLS_FILES.server),
        serverKey: f(TLS_FILES.serverKey),
        names,
        validTo: new X509Certificate(server.certificatePem).validTo,
        hubFlags: `--mqtt-tls-listen 0.0.0.0:8883 --tls-cert ${f(TLS_FILES.server)} --tls-key ${f(TLS_FILES.serverKey)}`,
        agentFlags: `--broker mqtts://${names[0]!.includes(':') ? `[${names[0]}]` : names[0]}:8883 --tls-ca ${f(TLS_FILES.ca)}`,
      };
      if (opts.json) printJson(out);
      else printBlock(out);
    });

  tls
    .command('client <name>')
    .description('issue a client certificate from the site CA (for a broker started with --tls-ca)')
    .addOption(new Option('--data <dir>', 'data directory (the CA is in DATA/tls)').default(DEFAULTS.dataDir))
    .option('--dir <dir>', 'the CA is here instead of DATA/tls')
    .requiredOption('--out <prefix>', 'write PREFIX.pem and PREFIX-key.pem (0600)')
    .option('--days <n>', 'validity', '825')
    .option('--json', 'print JSON')
    .action((name: string, opts: Opts) => {
      const dir = tlsDir(opts);
      const validDays = days(opts.days, '--days');
      if (!existsSync(join(dir, TLS_FILES.caKey)))
        throw new ConfigError([`no site CA in ${dir}: run tally-hub tls init`]);
      const ca = siteCa(dir, 1);
      const cert = issueFrom(ca, 'client', name, [], validDays);
      const prefix = resolve(String(opts.out));
      writeFileSync(`${prefix}-key.pem`, cert.keyPem, { mode: 0o600 });
      writeFileSync(`${prefix}.pem`, cert.certificatePem, { mode: 0o644 });
      const out = {
        certificate: `${prefix}.pem`,
        key: `${prefix}-key.pem`,
        agentFlags: `--tls-ca ${join(dir, TLS_FILES.ca)} --tls-cert ${prefix}.pem --tls-key ${prefix}-key.pem`,
      };
      if (opts.json) printJson(out);
      else printBlock(out);
    });
  return tls;
}
