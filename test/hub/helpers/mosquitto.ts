// Runs a real Mosquitto for tests: a CA, server and client certificates made with the openssl CLI,
// the configuration of docs/operations.md (mutual TLS, identity = certificate CN, per-device
// pattern ACL), on a free port of 127.0.0.1. Found via TALLY_MOSQUITTO_BIN or the PATH.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { freePort } from '../../../common/free-port.js';
import { userInfo } from 'node:os';
import { join } from 'node:path';

export { findMosquittoBin as findMosquitto } from '../../../common/mosquitto-cluster.js';

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A certificate signed by the test CA, with `cn` as its common name; `days` -1 makes one that
 *  has already expired. */
export function issueCert(
  dir: string,
  name: string,
  cn: string,
  serverIp?: string,
  days = 2,
): { cert: string; key: string } {
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  ]);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, serverIp ? `subjectAltName=IP:${serverIp}\n` : 'extendedKeyUsage=clientAuth\n');
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    String(days),
    '-out',
    `${name}.pem`,
    '-extfile',
    ext,
  ]);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

export interface RunningMosquitto {
  url: string;
  ca: string;
  hub: { cert: string; key: string };
  /** What mosquitto wrote so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** Departures from the documented configuration, for tests that need a smaller broker. */
export interface MosquittoOverrides {
  /** Replaces `max_queued_messages` (messages kept per offline persistent session). */
  maxQueuedMessages?: number;
}

export async function startMosquitto(
  bin: string,
  dir: string,
  overrides: MosquittoOverrides = {},
): Promise<RunningMosquitto> {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=tally-test-ca',
  ]);
  const server = issueCert(dir, 'server', '127.0.0.1', '127.0.0.1');
  const hub = issueCert(dir, 'hub', 'tally-hub');
  // The ACL and configuration are the ones docs/operations.md gives; the test keeps them in step.
  const docs = readFileSync(join(process.cwd(), 'docs/operations.md'), 'utf8');
  const acl = /```text acl\n([\s\S]*?)```/.exec(docs)?.[1];
  const conf = /```text mosquitto\.conf\n([\s\S]*?)```/.exec(docs)?.[1];
  if (!acl || !conf) throw new Error('docs/operations.md lost its mosquitto.conf or acl block');
  const port = await freePort();
  writeFileSync(join(dir, 'acl'), acl);
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    conf
      .replace('listener 8883 0.0.0.0', `listener ${port} 127.0.0.1`)
      .replace('/etc/mosquitto/tally/ca.pem', join(dir, 'ca.pem'))
      .replace('/etc/mosquitto/tally/server.pem', server.cert)
      .replace('/etc/mosquitto/tally/server.key', server.key)
      .replace('/etc/mosquitto/tally/acl', join(dir, 'acl'))
      .replace(/^persistence true$/m, 'persistence false')
      .replace(/^persistence_location .*$/m, '')
      .replace(/^log_dest .*$/m, 'log_dest stderr')
      .replace(/^max_queued_messages .*$/m, (line) =>
        overrides.maxQueuedMessages !== undefined ? `max_queued_messages ${overrides.maxQueuedMessages}` : line,
      ) +
      // Started as root, mosquitto would switch to its own user, who cannot read this temp dir.
      `user ${userInfo().username}\n`,
  );
  const proc: ChildProcess = spawn(bin, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  // Ready when it says it opened the listener (or dead with its log).
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (log.includes(`listen socket on port ${port}`)) {
        clearInterval(check);
        resolve();
      }
    }, 20);
    proc.once('exit', (code) => {
      clearInterval(check);
      reject(new Error(`mosquitto exited with ${code}: ${log}`));
    });
  });
  return {
    url: `mqtts://127.0.0.1:${port}`,
    ca: join(dir, 'ca.pem'),
    hub,
    log: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
