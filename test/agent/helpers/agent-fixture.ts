// Runs an in-process Agent over a real SQLite file and a file: meter whose counter the test writes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { generateKeyPair, toHex, type KeyPair } from '../../../protocol/index.js';
import { Agent, type AgentOptions } from '../../../agent/agent.js';
import { systemClock } from '../../../agent/clock.js';
import type { AgentLogEntry } from '../../../agent/codes.js';
import { createFileMeter } from '../../../agent/meter/file.js';
import { waitFor } from '../../../support/test-hub.js';
import { openOutboxDatabase, openSqliteOutbox } from '../../../agent/outbox/sqlite.js';
import type { OutboxStore } from '../../../agent/outbox/types.js';

export class AgentFixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'tally-agent-it-'));
  readonly counterPath = join(this.dir, 'counter');
  readonly dbPath = join(this.dir, 'outbox.db');
  readonly keyPair: KeyPair = generateKeyPair();
  readonly logs: AgentLogEntry[] = [];
  agent: Agent | undefined;
  db: Database.Database | undefined;
  store: OutboxStore | undefined;

  get deviceHex(): string {
    return toHex(this.keyPair.publicKey);
  }

  setCounter(value: bigint | string): void {
    writeFileSync(this.counterPath, `${value}\n`);
  }

  start(hub: { url: string; keyPair: KeyPair }, extra: Partial<AgentOptions> = {}): Agent {
    this.db = openOutboxDatabase(this.dbPath);
    this.store = openSqliteOutbox(this.db, this.deviceHex);
    const agent = new Agent({
      keyPair: this.keyPair,
      hubKey: hub.keyPair.publicKey,
      store: this.store,
      meter: createFileMeter(this.counterPath, 20, systemClock),
      broker: { url: hub.url },
      batch: 16,
      batchMs: 50,
      window: 4,
      ackTimeoutMs: 2000,
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
      ...extra,
    });
    agent.on('log', (e) => this.logs.push(e));
    agent.start();
    this.agent = agent;
    return agent;
  }

  async stop(): Promise<void> {
    await this.agent?.stop();
    this.agent = undefined;
    this.db?.close();
    this.db = undefined;
  }

  codes(): string[] {
    return this.logs.map((l) => l.code);
  }

  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits until every agent has signed, sent and had acknowledged all its meter counted
 *  (counters[i] is agent i's meter): nothing left in any outbox. */
export async function waitDrained(running: readonly Agent[], counters: readonly bigint[], ms = 60_000): Promise<void> {
  await waitFor(
    () =>
      running.every(
        (r, i) =>
          r.snapshot().channel!.cumUnits === counters[i] &&
          r.snapshot().ackedUnits === counters[i] &&
          r.snapshot().outboxDepth === 0,
      ),
    'final drain',
    ms,
  );
}
