// The embedded broker's options survive a burst: thousands of clients each publishing and then
// disconnecting at once (a fleet going offline together). With a limit on aedes' in-flight
// messages this overflowed the stack and killed the process (mqemitter issue #204). It runs in a
// child process so that the crash is a crash, as it was for the hub.
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';

it('delivers a burst of 4,000 clients publishing and disconnecting at once without crashing', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'test/hub/fixtures/broker-burst.ts', '4000', '3'], {
    encoding: 'utf8',
    timeout: 90_000,
  });
  expect(run.stderr).not.toMatch(/Maximum call stack size exceeded/);
  expect(run.status).toBe(0);
  expect(run.stdout.trim()).toBe('delivered 12000');
});
