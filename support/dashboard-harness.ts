// A hub with a small fleet of real agents (SQLite outboxes, simulated meters, over MQTT) and headless
// Chromium, for the dashboard's end-to-end tests, the screenshots and the benchmark.
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';
import { Agent, type AgentOptions } from '../agent/agent.js';
import { systemClock } from '../agent/clock.js';
import { createSimMeter } from '../agent/meter/sim.js';
import { openSqliteOutbox } from '../agent/outbox/sqlite.js';
import { buildDashboard } from '../hub/dashboard/build.mjs';
import { startHub, type HubHandle } from '../hub/server.js';
import type { HubConfigInput } from '../hub/base/config.js';
import { generateKeyPair, toHex } from '../protocol/index.js';
import { PRODUCTS } from '../simulator/identity.js';

export const CHROMIUM = '/usr/bin/chromium';
export const IN_CI = process.env.CI === 'true';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

const REPO = new URL('../', import.meta.url);

/** Builds the dashboard from source into dist/dashboard/, where the hub serves it from. */
export async function buildAssets(): Promise<void> {
  await buildDashboard(new URL('dist/dashboard', REPO).pathname);
}

export async function launchChromium(): Promise<Browser> {
  if (!HAVE_CHROMIUM)
    throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install -y chromium (.ci/run does it in CI)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// The simulator's mix of metered goods, so the dashboard is tested on the same fleet.
export { PRODUCTS };

export interface Device {
  readonly hex: string;
  readonly agent: Agent;
  /** Set when the hub's GRANT has reached the agent. */
  channelId: string | undefined;
}

export interface FleetHub {
  hub: HubHandle;
  devices: Device[];
  close(): Promise<void>;
}

/** Wire faults, as probabilities per segment: enough to light up the dashboard's signals. */
export interface WireFaults {
  /** The segment is sent twice (DUPLICATE). */
  duplicate?: number;
  /** The segment is held back and sent after the next one (a gap the reorder buffer fills). */
  reorder?: number;
  /** A copy with one flipped byte goes first (refused: bad signature, link or decode). */
  tamper?: number;
}

export interface FleetHubOptions {
  devices: number;
  /** Units per second per device. */
  rate: number;
  faults?: WireFaults;
  /** Capacity of device i's channel in minor units; far beyond the run by default. */
  capacity?: (i: number) => bigint;
  /** Webhook settings of the hub (the browser test makes dead letters quickly). */
  webhooks?: HubConfigInput['webhooks'];
  /** More settings for the hub (a read token, for instance). */
  hub?: HubConfigInput;
}

function interceptor(f: WireFaults): AgentOptions['interceptSegment'] {
  let held: Uint8Array | undefined;
  return async (payload, publish) => {
    if (f.tamper && Math.random() < f.tamper) {
      const forged = payload.slice();
      const at = Math.floor(Math.random() * forged.length);
      forged[at] = forged[at]! ^ 0x5a;
      await publish(forged);
    }
    if (held === undefined && f.reorder && Math.random() < f.reorder) {
      held = payload;
      return;
    }
    await publish(payload);
    if (held !== undefined) {
      const late = held;
      held = undefined;
      await publish(late);
    }
    if (f.duplicate && Math.random() < f.duplicate) await publish(payload);
  };
}

/** A hub on loopback ports and real agents (SQLite outboxes, simulated meters) metering units. */
export async function startFleetHub(o: FleetHubOptions): Promise<FleetHub> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tally-dash-hub-'));
  const workDir = mkdtempSync(join(tmpdir(), 'tally-dash-fleet-'));
  const hub = await startHub({
    dataDir,
    mqttListen: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    verifyWorkers: 0,
    ...(o.webhooks ? { webhooks: o.webhooks } : {}),
    ...o.hub,
  });
  const db = new Database(join(workDir, 'outboxes.db'));
  db.pragma('journal_mode = WAL');
  const keys = Array.from({ length: o.devices }, () => generateKeyPair());
  await hub.core.enrol(
    keys.map((k, i) => {
      const p = PRODUCTS[i % PRODUCTS.length]!;
      return {
        publicKey: toHex(k.publicKey),
        unit: p.unit,
        pricePerUnit: p.pricePerUnit,
        capacity: o.capacity?.(i) ?? 10n ** 12n,
      };
    }),
  );
  const devices: Device[] = keys.map((keyPair) => {
    const hex = toHex(keyPair.publicKey);
    const agent = new Agent({
      keyPair,
      hubKey: hub.hubKey.publicKey,
      store: openSqliteOutbox(db, hex),
      meter: createSimMeter(BigInt(Math.round(o.rate * 1000)), systemClock),
      broker: { url: hub.mqttUrl },
      batch: 16,
      batchMs: 250,
      reconnectMinMs: 200,
      reconnectMaxMs: 2_000,
      ...(o.faults ? { interceptSegment: interceptor(o.faults) } : {}),
    });
    const device: Device = { hex, agent, channelId: undefined };
    agent.on('channel', (id) => (device.channelId = id));
    agent.start();
    return device;
  });
  // Ready when every agent holds its channel (the hub's GRANT arrived).
  for (let i = 0; i < 300 && devices.some((d) => d.channelId === undefined); i++) await sleep(100);
  return {
    hub,
    devices,
    close: async () => {
      await Promise.all(devices.map((d) => d.agent.stop().catch(() => undefined)));
      db.close();
      await hub.close();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
