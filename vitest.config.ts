import { configDefaults, defineConfig } from 'vitest/config';

// Two projects. `unit`: no network, no browser, no long run (pure logic, decoders, code tables, the
// hub core over a SQLite file in a temp dir); `npm run test:unit` takes seconds. `integration`:
// everything else (real brokers, child processes, Chromium, simulations, fuzz and soak runs).
// `npm test` runs both. A new test file is integration until it is listed here.
const UNIT = [
  'test/protocol/**/*.test.ts',
  'test/layout/**/*.test.ts',
  'test/common/log.test.ts',
  'test/agent/{backoff,chain,codes,config,downlink,meter,outbox.sqlite}.test.ts',
  'test/hub/{access,config,docs,store,commit-failure,equivocation-evidence,pending-signature,webhook-logic,descriptor-watch,reorder,start-config,store-config,partition-filters,cluster-control-router}.test.ts',
  'test/dashboard/{activity,docs}.test.ts',
  'test/simulator/{faults,ledger,report,stages,fleet-plan,brokers}.test.ts',
  'test/reliability/{report,hostile-keys-and-vectors,hostile-replay,hostile-segments,disk-full}.test.ts',
];

export default defineConfig({
  test: {
    // Integration tests start real brokers and SQLite files; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The JSON report lets .ci/run print one plain "N passed, N failed" line, so a run that
    // executed no test is visible; the unhandled errors, which that report leaves out, go beside it.
    reporters: ['default', 'json', './test/reporters/unhandled-errors.ts'],
    outputFile: { json: 'reports/vitest.json' },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...UNIT] },
      },
    ],
  },
});
