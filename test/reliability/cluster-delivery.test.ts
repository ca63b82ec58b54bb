// The delivery cases of helpers/delivery-cases.ts against a 3-hub cluster: three members
// (`--cluster h0..h2`, lease 2 s) on one throwaway PostgreSQL, one shared aedes broker, real agents
// with SQLite outboxes. The same assertions as for one hub: exact conservation, no false
// equivocation. Needs PostgreSQL (describePostgres: NOT RUN without it, a failure under CI=true).
import { afterAll, beforeAll } from 'vitest';
import { describePostgres } from '../hub/helpers/postgres.js';
import { startClusterInfra, type ClusterInfra } from '../cluster/helpers/cluster-env.js';
import { deliveryCases } from './helpers/delivery-cases.js';
import { recorder } from './helpers/record.js';
import { hubCluster } from './helpers/target.js';

const rec = recorder('delivery-cluster');

describePostgres('test/reliability/cluster-delivery.test.ts', '3-hub cluster', (bin) => {
  let infra: ClusterInfra | undefined;
  beforeAll(async () => {
    infra = await startClusterInfra(bin);
  }, 60_000);
  afterAll(async () => {
    await infra?.close();
  });
  deliveryCases('delivery faults on a 3-hub cluster', () => hubCluster(() => infra!), rec, {
    // The storm brings the three members back while 40 agents reconnect in this process. A member
    // taking every partition at once used to outlast its lease loading them, lose them all and take
    // them again (no catch-up within 60 s); the budget stays wide for a busy machine.
    reconnectStorm: { timeoutMs: 180_000 },
  });
});
