// A Mosquitto as a meter's local broker is set up on a Pi: plain MQTT on loopback, a user and
// password (Tasmota and Shelly log in this way). Found like the hub's tests find it
// (TALLY_MOSQUITTO_BIN or the usual paths).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../../../common/free-port.js';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { findMosquitto } from '../../hub/helpers/mosquitto.js';

export { findMosquitto };

export interface PlainMosquitto {
  readonly port: number;
  /** mqtt://USER:PASS@127.0.0.1:PORT */
  readonly url: string;
  readonly user: string;
  readonly password: string;
  stop(): Promise<void>;
}

export async function startPlainMosquitto(bin: string): Promise<PlainMosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-meter-broker-'));
  const user = 'tally';
  const password = 'meter-secret';
  const passwd = join(dir, 'passwd');
  const tool = [join(dirname(bin), 'mosquitto_passwd'), '/usr/bin/mosquitto_passwd'].find((p) => existsSync(p));
  if (tool === undefined) throw new Error('mosquitto_passwd not found beside mosquitto');
  execFileSync(tool, ['-b', '-c', passwd, user, password], { stdio: 'pipe' });
  const port = await freePort();
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${passwd}`,
      'persistence false',
      'log_dest stderr',
      // Started as root, mosquitto would switch to its own user, who cannot read this temp dir.
      `user ${userInfo().username}`,
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn(bin, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
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
    port,
    url: `mqtt://${user}:${password}@127.0.0.1:${port}`,
    user,
    password,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (proc.exitCode !== null) return done();
        proc.once('exit', done);
        proc.kill('SIGTERM');
      }),
  };
}
