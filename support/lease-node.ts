// One cluster member reduced to its ownership: a process running a LeaseManager against a
// PostgreSQL database and printing, one JSON line each, what it gains and loses. Tests and
// bench/cluster.ts start several and SIGKILL them to see and time the takeover.
//
//   node --import tsx support/lease-node.ts <postgres-url> <hub-id> <partitions> [lease-ms]
//
// Lines: {"ev":"ready"} once started, {"ev":"gain"|"lose","p":3,"token":"7","reason":..,"at":<ms
// since the epoch>}. SIGTERM releases the leases and exits 0.
import pg from 'pg';
import { LeaseManager } from '../hub/cluster/leases.js';

const [url, hubId, partitions, leaseMs] = process.argv.slice(2);
if (!url || !hubId || !partitions) {
  process.stderr.write('usage: lease-node.ts <postgres-url> <hub-id> <partitions> [lease-ms]\n');
  process.exit(2);
}
const out = (o: object) => process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);
const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 2000 });
pool.on('error', () => {});
const leases = new LeaseManager(pool, {
  hubId,
  partitions: Number(partitions),
  ...(leaseMs ? { leaseMs: Number(leaseMs) } : {}),
  onGain: (p, token) => void out({ ev: 'gain', p, token: token.toString() }),
  onLose: (p, reason) => out({ ev: 'lose', p, reason }),
  log: (level, message) => {
    if (level !== 'info') process.stderr.write(`${level}: ${message}\n`);
  },
});
await leases.start();
out({ ev: 'ready' });
process.once('SIGTERM', () => {
  void leases
    .stop()
    .then(() => pool.end())
    .then(() => process.exit(0));
});
