// Who else on the machine can read a hub's or a device's data: the hub database holds every
// voucher and receipt, its directory the hub key and the admin token; the device's outbox holds
// what it has not been paid for yet. Made under the common umask 022, and in directories that
// already exist with mode 0755 (as `mkdir -p` leaves them), every database file (with its -wal
// and -shm files) must be 0600 and every data directory 0700.
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOutboxDatabase, openSqliteOutbox } from '../../agent/outbox/sqlite.js';
import { ensureDeviceKey, OUTBOX_FILE } from '../../agent/keys.js';
import { FILES } from '../../hub/store/datadir.js';
import { toHex } from '../../protocol/index.js';
import { tempDir, testHub } from '../hub/helpers/hub.js';
import { recorder } from './helpers/record.js';

const rec = recorder('data-files');
const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

describe('data files are private to their owner', () => {
  const tmp = tempDir();
  let umask: number;
  beforeAll(() => {
    umask = process.umask(0o022);
  });
  afterAll(() => {
    process.umask(umask);
    tmp.cleanup();
  });

  it('hub: a new data dir, and one that exists with mode 0755 and a 0644 database', async () => {
    const fresh = join(tmp.dir, 'hub-new');
    const existing = join(tmp.dir, 'hub-old');
    mkdirSync(existing, { mode: 0o755 });
    chmodSync(existing, 0o755);
    writeFileSync(join(existing, FILES.db), '');
    chmodSync(join(existing, FILES.db), 0o644);
    const observed: string[] = [];
    for (const dir of [fresh, existing]) {
      const hub = await testHub(dir);
      const modes = Object.fromEntries(
        ['.', FILES.db, `${FILES.db}-wal`, `${FILES.db}-shm`, FILES.key, FILES.adminToken, FILES.brokerSecret].map(
          (f) => [f, modeOf(join(dir, f))],
        ),
      );
      await hub.close();
      observed.push(`${dir === fresh ? 'new' : 'existing 0755'}: ${JSON.stringify(modes)}`);
      expect(modes).toEqual({
        '.': '0700',
        [FILES.db]: '0600',
        [`${FILES.db}-wal`]: '0600',
        [`${FILES.db}-shm`]: '0600',
        [FILES.key]: '0600',
        [FILES.adminToken]: '0600',
        [FILES.brokerSecret]: '0600',
      });
    }
    rec.record({
      case: 'hub data dir and database modes under umask 022 (new, and an existing 0755 dir with a 0644 hub.db)',
      expected: 'directory 0700; hub.db, -wal, -shm, key, admin token and broker secret 0600',
      observed: observed.join('; '),
      figures: { inputs: 2 },
    });
  });

  it('agent: a new data dir, and one that exists with mode 0755', () => {
    const observed: string[] = [];
    for (const name of ['agent-new', 'agent-old']) {
      const dir = join(tmp.dir, name);
      if (name === 'agent-old') {
        mkdirSync(dir, { mode: 0o755 });
        chmodSync(dir, 0o755);
      }
      const { keyPair } = ensureDeviceKey(dir); // what `tally-agent init` does
      const db = openOutboxDatabase(join(dir, OUTBOX_FILE));
      openSqliteOutbox(db, toHex(keyPair.publicKey)).load();
      const modes = Object.fromEntries(
        ['.', OUTBOX_FILE, `${OUTBOX_FILE}-wal`, `${OUTBOX_FILE}-shm`].map((f) => [f, modeOf(join(dir, f))]),
      );
      db.close();
      observed.push(`${name}: ${JSON.stringify(modes)}`);
      expect(modes).toEqual({
        '.': '0700',
        [OUTBOX_FILE]: '0600',
        [`${OUTBOX_FILE}-wal`]: '0600',
        [`${OUTBOX_FILE}-shm`]: '0600',
      });
    }
    rec.record({
      case: 'agent data dir and outbox modes under umask 022 (new, and an existing 0755 dir)',
      expected: 'directory 0700; outbox.db, -wal and -shm 0600',
      observed: observed.join('; '),
      figures: { inputs: 2 },
    });
  });
});
