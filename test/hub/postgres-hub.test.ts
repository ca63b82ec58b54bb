// `tally-hub start --store postgres://...` end to end: the real CLI in a child process on a
// throwaway PostgreSQL server, devices enrolled with `tally-hub device add` through it, real agents
// (SQLite outboxes, deleting only on receipts) streaming while the hub is stopped with SIGTERM and
// later SIGKILLed, and restarted. Afterwards the ledger in PostgreSQL holds exactly what the agents
// signed: nothing lost, nothing counted twice. The URL's password is in no log line, the data
// dir's SQLite file holds no ledger, and a management command on the stopped hub refuses rather
// than writing one.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../common/free-port.js';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadIdentity, openStore } from '../../hub/store/datadir.js';
import { openPostgresStore } from '../../hub/store/postgres/store.js';
import { startPostgres, type RunningPostgres } from '../../support/postgres.js';
import { waitFor } from '../../support/test-hub.js';
import { AgentFixture, waitDrained } from '../agent/helpers/agent-fixture.js';
import { runHubCli } from './helpers/hub-cli.js';
import { tempDir } from './helpers/hub.js';
import { describePostgres } from './helpers/postgres.js';

const PASSWORD = 'pg-pass-never-logged';

interface HubChild {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `tally-hub start` as an operator types it; resolves once it printed its addresses. */
async function startHubCli(args: string[]): Promise<HubChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'hub/cli.ts', 'start', ...args], {
    cwd: process.cwd(),
    env: { ...process.env, TALLY_HUB_LOG_FORMAT: 'json' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start: ${stderr}`)), 60_000);
    child.stdout!.on('data', () => {
      if (stdout.includes('dashboard')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`hub exited ${code}: ${stderr}`)));
  });
  return { child, stderr: () => stderr, exited };
}

describePostgres('test/hub/postgres-hub.test.ts', 'tally-hub start --store postgres://', (bin) => {
  const tmp = tempDir('tally-pg-hub-');
  const data = join(tmp.dir, 'data');
  const agents = Array.from({ length: 3 }, () => new AgentFixture());
  let server: RunningPostgres;
  let url: string;
  let hub: HubChild | undefined;
  const logs: string[] = [];
  beforeAll(async () => {
    server = await startPostgres({ binDir: bin });
    // Trust authentication ignores the password; it is there to be kept out of the logs.
    url = (await server.createDatabase()).replace('postgres@', `postgres:${PASSWORD}@`);
  }, 60_000);
  afterAll(async () => {
    if (hub && hub.child.exitCode === null && hub.child.signalCode === null) {
      hub.child.kill('SIGKILL');
      await hub.exited;
    }
    for (const a of agents) {
      await a.stop();
      await a.cleanup();
    }
    await server?.stop();
    tmp.cleanup();
  });

  it(
    'keeps every unit once across a clean restart and a SIGKILL, with the ledger in PostgreSQL',
    { timeout: 240_000 },
    async () => {
      const listen = `127.0.0.1:${await freePort()}`;
      const start = async () => {
        const h = await startHubCli(['--data', data, '--store', url, '--mqtt-listen', listen, '--http', '127.0.0.1:0']);
        logs.push(h.stderr());
        return h;
      };
      hub = await start();
      // Enrolled through the running hub's API, as an operator does.
      for (const a of agents) {
        const added = await runHubCli([
          ...['device', 'add', '--data', data, '--json', '--public-key', a.deviceHex],
          ...['--unit', 'Wh', '--price', '2', '--capacity', '1000000000'],
        ]);
        expect(added.stderr).toBe('');
        expect(added.code).toBe(0);
      }
      const identity = loadIdentity(data);
      const target = { url: `mqtt://${listen}`, keyPair: identity.keyPair };
      const counters = agents.map(() => 0n);
      agents.forEach((a) => a.setCounter(0n));
      const running = agents.map((a) => a.start(target, { batch: 8, batchMs: 20, ackTimeoutMs: 1000 }));
      await waitFor(() => running.every((r) => r.snapshot().channel !== undefined), 'grants', 30_000);
      let step = 0;
      const meter = setInterval(() => {
        step++;
        agents.forEach((a, i) => {
          counters[i]! += BigInt(1 + ((step + i) % 4));
          a.setCounter(counters[i]!);
        });
      }, 25);
      const acknowledgedAfter = async (what: string) => {
        await waitFor(() => running.every((r) => r.snapshot().channel!.cumUnits > 0n), 'units signed', 30_000);
        const signed = running.map((r) => r.snapshot().channel!.cumUnits);
        await waitFor(() => running.every((r, i) => r.snapshot().ackedUnits >= signed[i]!), what, 60_000);
      };
      try {
        await acknowledgedAfter('receipts from the first hub');
        // A clean stop: what it holds is committed and receipted; the agents keep metering meanwhile.
        hub.child.kill('SIGTERM');
        expect(await hub.exited).toBe(0);
        logs[logs.length - 1] = hub.stderr();
        await new Promise((r) => setTimeout(r, 300));
        hub = await start();
        await acknowledgedAfter('receipts after the clean restart');
        // A crash: whatever was in flight is either committed (and re-acknowledged as a duplicate)
        // or not (and re-sent by the agents, which still hold it).
        hub.child.kill('SIGKILL');
        await hub.exited;
        logs[logs.length - 1] = hub.stderr();
        await new Promise((r) => setTimeout(r, 300));
        hub = await start();
        await acknowledgedAfter('receipts after the SIGKILL');
      } finally {
        clearInterval(meter);
      }
      await waitDrained(running, counters);
      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
      logs[logs.length - 1] = hub.stderr();

      // The ledger in PostgreSQL: each agent's signed head, exactly.
      const ledger = await openPostgresStore(url);
      try {
        const channels = await ledger.listChannels();
        expect(channels).toHaveLength(agents.length);
        agents.forEach((a, i) => {
          const ch = channels.find((c) => Buffer.from(c.deviceKey).toString('hex') === a.deviceHex)!;
          const signed = running[i]!.snapshot().channel!;
          expect(ch.head.cumUnits).toBe(counters[i]);
          expect(ch.head.seq).toBe(signed.headSeq);
          expect(ch.head.cumAmount).toBe(2n * counters[i]!);
          expect(ch.equivocated).toBe(false);
        });
        expect(await ledger.listEquivocations()).toEqual([]);
        expect(await ledger.getMeta('hubPublicKey')).toBe(identity.publicKeyHex);
      } finally {
        await ledger.close();
      }
      // Nothing in the data dir's SQLite file, and nothing written there behind the stopped hub.
      const local = openStore(data);
      try {
        expect(await local.listDevices()).toEqual([]);
        expect(await local.getMeta('ledger')).toMatch(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\//);
      } finally {
        await local.close();
      }
      const offline = await runHubCli(['device', 'list', '--data', data]);
      expect(offline.code).not.toBe(0);
      expect(offline.stderr).toMatch(/ledger .* is in PostgreSQL/);
      const plain = await startHubCli(['--data', data, '--mqtt-listen', '127.0.0.1:0', '--http', '127.0.0.1:0']).then(
        () => 'started',
        (err: Error) => err.message,
      );
      expect(plain).toMatch(/is in PostgreSQL .*start the hub with --store/);

      // Three runs logged; the password in none of them, the URL shown with *** in its place.
      const text = logs.join('\n');
      expect(text).not.toContain(PASSWORD);
      const started = text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { code: string; store?: string })
        .filter((l) => l.code === 'HUB_STARTED');
      expect(started).toHaveLength(3);
      for (const l of started) expect(l.store).toMatch(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/);
      expect(text).toContain('STORE_PASSWORD_VISIBLE');
    },
  );
});
