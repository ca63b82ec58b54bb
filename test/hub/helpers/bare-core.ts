// A hub core with no sockets: the real registry, pipeline, group commit and SQLite store in a temp
// dir, fed by calling onMessage directly, its downlink captured in arrays. Optionally with a
// signature pool whose verdicts the test releases by hand, to order "segment placed" and
// "worker answered" exactly as a race in the field would.
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { decodeControl, nodeBackend, type Control } from '../../../protocol/index.js';
import { resolveConfig, type HubConfigInput } from '../../../hub/base/config.js';
import { HubCore } from '../../../hub/core/hub-core.js';
import { FILES, initDataDir } from '../../../hub/store/datadir.js';
import type { SignatureCheck, SignatureVerifier } from '../../../hub/ingest/signature-pool.js';
import { HubMetrics } from '../../../hub/base/metrics.js';
import { openSqliteStore } from '../../../hub/store/sqlite-store.js';

/** Holds every signature check until release(); then answers with the real equation check. */
export class GatedPool implements SignatureVerifier {
  private held: { check: SignatureCheck; resolve: (ok: boolean | undefined) => void }[] = [];

  verify(check: SignatureCheck): Promise<boolean | undefined> {
    return new Promise((resolve) => this.held.push({ check, resolve }));
  }

  get waiting(): number {
    return this.held.length;
  }

  /** Answers the oldest `n` checks (all by default) and lets their continuations run. */
  async release(n = this.held.length): Promise<void> {
    for (const h of this.held.splice(0, n))
      h.resolve(nodeBackend.verify(h.check.signature, h.check.message, h.check.publicKey));
    await new Promise((r) => setImmediate(r));
  }

  /** Answers only the check at `index` (0 = oldest held), leaving the others held. */
  async releaseOne(index: number): Promise<void> {
    const [h] = this.held.splice(index, 1);
    if (h) h.resolve(nodeBackend.verify(h.check.signature, h.check.message, h.check.publicKey));
    await new Promise((r) => setImmediate(r));
  }

  asPool(): SignatureVerifier {
    return this;
  }
}

export interface BareCore {
  core: HubCore;
  /** The store's own SQLite connection (through its test hook), for settings such as max_page_count. */
  db: Database.Database;
  receipts: { deviceHex: string; bytes: Uint8Array }[];
  controls: { deviceHex: string; control: Control }[];
  /** Hands the core its downlink (done at once unless `attachLater`). */
  attach(): void;
  close(): Promise<void>;
}

export async function bareCore(
  dataDir: string,
  extra: HubConfigInput = {},
  pool?: SignatureVerifier,
  { attachLater = false }: { attachLater?: boolean } = {},
): Promise<BareCore> {
  const config = resolveConfig({ network: 'test-net', verifyWorkers: 0, ...extra, dataDir });
  const { identity } = initDataDir(config.dataDir, {
    network: config.network ?? 'test-net',
    synchronous: config.sqliteSynchronous,
  });
  let db: Database.Database | undefined;
  const store = openSqliteStore(join(config.dataDir, FILES.db), {
    synchronous: config.sqliteSynchronous,
    onConnection: (connection) => (db = connection),
  });
  const core = await HubCore.open(config, identity, store, new HubMetrics(), config.now, pool);
  const receipts: BareCore['receipts'] = [];
  const controls: BareCore['controls'] = [];
  const attach = () =>
    core.attach({
      seesConnections: true,
      downlink: {
        publishReceipt: (deviceHex, bytes) => receipts.push({ deviceHex, bytes }),
        publishControl: (deviceHex, bytes) => {
          const c = decodeControl(bytes, identity.keyPair.publicKey);
          if (c.ok) controls.push({ deviceHex, control: c.value });
        },
      },
    });
  if (!attachLater) attach();
  return {
    core,
    db: db!,
    receipts,
    controls,
    attach,
    async close() {
      await core.pipeline.placed();
      await core.pipeline.commit.stop();
      await store.close();
    },
  };
}
