// A hub in its own process, so a test can SIGKILL it or measure its memory: startHub on the data
// dir and MQTT address given as arguments, one JSON line on stdout when it is ready. Test-only.
import { startHub } from '../../../hub/server.js';
import type { HubConfigInput } from '../../../hub/base/config.js';

const [dataDir, mqttListen, commitDelayMs, settleEveryMs, extraJson] = process.argv.slice(2);
if (!dataDir || !mqttListen) {
  process.stderr.write('usage: hub-child DATA_DIR HOST:PORT [COMMIT_DELAY_MS [SETTLE_EVERY_MS [CONFIG_JSON]]]\n');
  process.exit(2);
}
const extra = JSON.parse(extraJson ?? '{}') as HubConfigInput;
const hub = await startHub({
  dataDir,
  mqttListen,
  http: '127.0.0.1:0',
  credentialWindowMs: 600_000,
  // A wider gap between a segment's arrival and its commit makes a kill land in it more often.
  commitDelayMs: Number(commitDelayMs ?? 0),
  // Frequent epochs, so kills also land while an epoch is being closed.
  settleEveryMs: Number(settleEveryMs ?? 0),
  verifyWorkers: 1,
  ...extra,
});
process.stdout.write(
  `${JSON.stringify({ ready: true, mqttUrl: hub.mqttUrl, httpUrl: hub.httpUrl, publicKey: hub.publicKeyHex })}\n`,
);
process.on('SIGTERM', () => void hub.close().then(() => process.exit(0)));
