// Webhooks across hub SIGKILLs: a hub in its own process (real SQLite file) closes an epoch every
// 50 ms while agents stream into small channels that the test keeps topping up, so epoch.settled,
// channel.low_capacity, channel.exhausted and channel.topped_up are caused all the time, by the
// group commit, the epoch transaction and the management API. The receiver (a real node:http
// server) fails with 500s, is stopped and started again, and the hub is killed with SIGKILL at
// random points, mid-delivery included. At the end every event in the hub's database has reached
// the receiver (nothing lost), each id once after the receiver's deduplication (at least once on
// the wire), every signature verified; every epoch has its epoch.settled and every channel's
// capacity equals its opening capacity plus the top-ups its events announced.
// Kills: TALLY_WEBHOOK_KILLS (default 4).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from '../../protocol/index.js';
import { FILES, loadIdentity } from '../../hub/store/datadir.js';
import { openSqliteStore } from '../../hub/store/sqlite-store.js';
import { newSecret } from '../../hub/webhooks/sign.js';
import { AgentFixture } from '../agent/helpers/agent-fixture.js';
import { bareCore } from '../hub/helpers/bare-core.js';
import { tempDir } from '../hub/helpers/hub.js';
import { WebhookReceiver } from '../hub/helpers/webhook-receiver.js';
import { envInt } from './helpers/record.js';
import { seededRandom } from './helpers/random.js';

const KILLS = envInt('TALLY_WEBHOOK_KILLS', 4);
const CAPACITY = 60n;
const PRICE = 2n;

const WEBHOOKS = {
  retryBaseMs: 20,
  retryMaxMs: 300,
  pollMs: 50,
  timeoutMs: 500,
  maxAttempts: 100_000,
  lowCapacity: '25%',
};

function startChild(dataDir: string): Promise<{ child: ChildProcess; httpUrl: string; mqttUrl: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/reliability/helpers/hub-child.ts',
      dataDir,
      '127.0.0.1:0',
      '5',
      '50',
      JSON.stringify({ webhooks: WEBHOOKS }),
    ],
    { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hub child did not start')), 30_000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      const ready = JSON.parse(line) as { httpUrl: string; mqttUrl: string };
      resolve({ child, ...ready });
    });
    child.once('exit', (code) => reject(new Error(`hub child exited with ${code}`)));
  });
}

const killed = (child: ChildProcess, signal: NodeJS.Signals) =>
  new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.once('exit', () => r());
    child.kill(signal);
  });

describe('webhooks across hub SIGKILLs', () => {
  const tmp = tempDir('tally-webhook-kill-');
  const agents = Array.from({ length: 2 }, () => new AgentFixture());
  const secret = newSecret();
  const receiver = new WebhookReceiver(secret);
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child) await killed(child, 'SIGKILL');
    for (const a of agents) await a.cleanup();
    await receiver.stop();
    tmp.cleanup();
  });

  it(
    'delivers every event exactly once by id, signed, to a receiver that failed in between',
    { timeout: 180_000 },
    async () => {
      await receiver.start();
      // Enrol and subscribe on the stopped hub's database, as the CLI does without a running hub.
      const setup = await bareCore(tmp.dir, { credentialWindowMs: 600_000 });
      await setup.core.enrol(
        agents.map((a) => ({ publicKey: a.deviceHex, unit: 'Wh', pricePerUnit: PRICE, capacity: CAPACITY })),
      );
      await setup.core.webhooks.add({ url: receiver.url, events: ['*'], secret });
      await setup.close();
      const identity = loadIdentity(tmp.dir);

      let hub = await startChild(tmp.dir);
      child = hub.child;
      const random = seededRandom(Number(process.env.TALLY_WEBHOOK_KILL_SEED ?? 7));
      const counters = agents.map(() => 0n);
      agents.forEach((a) => a.setCounter(0n));
      agents.map((a) => a.start({ url: hub.mqttUrl, keyPair: identity.keyPair }, { batch: 4, batchMs: 20 }));
      const meter = setInterval(() => {
        agents.forEach((a, i) => {
          counters[i]! += BigInt(1 + Math.floor(random() * 3));
          a.setCounter(counters[i]!);
        });
      }, 25);

      // Top-ups through the running hub's API keep the channels cycling between low, exhausted and
      // open; a kill may land on one (then it happened or not, and the capacity says which).
      let topups = 0;
      const topup = async () => {
        const channels = (await (await fetch(`${hub.httpUrl}/api/channels`)).json()) as {
          channels: { channelId: string; remaining: string }[];
        };
        for (const c of channels.channels) {
          if (BigInt(c.remaining) > CAPACITY / 4n) continue;
          const res = await fetch(`${hub.httpUrl}/api/channels/${c.channelId}/topup`, {
            method: 'POST',
            headers: { authorization: `Bearer ${identity.adminToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ amount: String(CAPACITY) }),
          });
          if (res.ok) topups++;
        }
      };
      const topper = setInterval(() => void topup().catch(() => {}), 300);

      try {
        for (let k = 0; k < KILLS; k++) {
          await new Promise((r) => setTimeout(r, 1_500 + random() * 1_500));
          // The receiver misbehaves between kills: 500s, or gone and back on the same port.
          if (k % 2 === 0) receiver.mode = 'fail';
          else await receiver.stop();
          await new Promise((r) => setTimeout(r, 300 + random() * 500));
          await killed(child, 'SIGKILL');
          receiver.mode = 'ok';
          await receiver.start();
          await new Promise((r) => setTimeout(r, random() * 300));
          hub = await startChild(tmp.dir);
          child = hub.child;
          // The embedded broker's port is new: restart the agents on it (their outboxes are kept).
          for (const a of agents) await a.stop();
          agents.map((a) => a.start({ url: hub.mqttUrl, keyPair: identity.keyPair }, { batch: 4, batchMs: 20 }));
        }
      } finally {
        clearInterval(meter);
        clearInterval(topper);
      }

      // Quiet: no new events once the agents are drained and nothing moves; then nothing pending.
      let last = '';
      const deadline = Date.now() + 60_000;
      for (;;) {
        const body = (await (await fetch(`${hub.httpUrl}/api/webhooks/deliveries?limit=1`)).json()) as {
          counts: { pending: number; delivered: number; dead: number };
        };
        const now = JSON.stringify(body.counts);
        if (body.counts.pending === 0 && now === last) break;
        if (Date.now() > deadline) throw new Error(`outbox not drained: ${now}`);
        last = now;
        await new Promise((r) => setTimeout(r, 1_000));
      }
      await killed(child, 'SIGTERM');
      child = undefined;

      const store = openSqliteStore(join(tmp.dir, FILES.db), { readonly: true });
      try {
        const deliveries = await store.outbox.listDeliveries({ limit: 1_000_000 });
        const ids = new Set(deliveries.map((d) => d.eventId));
        expect(deliveries.filter((d) => d.state !== 'delivered')).toEqual([]);
        // Nothing lost: every event written reached the receiver; nothing invented.
        expect([...ids].filter((id) => !receiver.accepted.has(id))).toEqual([]);
        expect([...receiver.accepted.keys()].filter((id) => !ids.has(id))).toEqual([]);
        expect(receiver.requests.every((r) => r.verified)).toBe(true);

        const bodies = [...receiver.accepted.values()].map((r) => JSON.parse(r.body) as { type: string; data: any }); // eslint-disable-line @typescript-eslint/no-explicit-any
        // Every epoch committed has its epoch.settled, once.
        const epochs = (await store.listEpochs()).map((e) => e.epoch.toString());
        const settled = bodies.filter((b) => b.type === 'epoch.settled').map((b) => b.data.epoch as string);
        expect(settled.sort()).toEqual(epochs.sort());
        // Every top-up committed has its channel.topped_up: capacity = opening + announced top-ups.
        for (const ch of await store.listChannels()) {
          const announced = bodies
            .filter((b) => b.type === 'channel.topped_up' && b.data.channelId === toHex(ch.channelId))
            .reduce((sum, b) => sum + BigInt(b.data.amount as string), 0n);
          expect(ch.capacity).toBe(CAPACITY + announced);
        }
        const types = new Set(bodies.map((b) => b.type));
        for (const t of ['epoch.settled', 'channel.low_capacity', 'channel.exhausted', 'channel.topped_up'])
          expect(types, t).toContain(t);
        // At least once on the wire: the kills and failures made the receiver see repeats.
        expect(receiver.requests.length).toBeGreaterThan(receiver.accepted.size);
        expect(topups).toBeGreaterThan(0);
        process.stdout.write(
          `webhook-sigkill: ${KILLS} kills, ${receiver.accepted.size} events delivered once each after deduplication, ${receiver.requests.length} requests on the wire, ${epochs.length} epochs, ${topups} top-ups acknowledged\n`,
        );
      } finally {
        await store.close();
      }
    },
  );
});
