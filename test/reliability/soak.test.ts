// A soak of the fleet simulator with every fault kind on at once, for a bounded time in CI and as
// long as asked on demand (TALLY_SOAK_S seconds, TALLY_SOAK_DEVICES devices, TALLY_SOAK_SEED). It
// must end in exact conservation: signed = accepted = settled, bundles verified offline.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../simulator/faults.js';
import { runSimulation } from '../../simulator/run.js';
import { envInt, recorder } from './helpers/record.js';

const SECONDS = envInt('TALLY_SOAK_S', 20);
const DEVICES = envInt('TALLY_SOAK_DEVICES', 16);
const SEED = envInt('TALLY_SOAK_SEED', 11);
const rec = recorder('soak', { TALLY_SOAK_S: SECONDS, TALLY_SOAK_DEVICES: DEVICES, TALLY_SOAK_SEED: SEED });
const quiet = new Writable({ write: (_c, _e, cb) => cb() });

describe('soak with every fault on', () => {
  it('ends in exact conservation', { timeout: 120_000 + SECONDS * 3_000 }, async () => {
    const faults = parseFaults([
      'disconnect=0.05',
      'kill-agent=0.05',
      'duplicate=0.2',
      'reorder=0.2',
      'tamper=0.1',
      'replay=0.1',
      'broker-restart=5',
      'clock-skew=7200',
    ]);
    const r = await runSimulation({
      devices: DEVICES,
      ratePerDevice: 20,
      durationS: SECONDS,
      seed: SEED,
      arrivals: 'poisson',
      faults,
      remote: undefined,
      batch: 16,
      batchMs: 300,
      window: 8,
      workers: 0,
      drainTimeoutS: 120,
      progress: quiet,
      log: () => {},
    });
    expect(BigInt(r.units.signed)).toBeGreaterThan(BigInt(DEVICES * SECONDS));
    expect(r.mismatches).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.lost).toBe('0');
    expect(r.duplicated).toBe('0');
    expect(r.units.accepted).toBe(r.units.signed);
    expect(r.units.settled).toBe(r.units.signed);
    expect(r.amount.settled).toBe(r.amount.signed);
    expect(r.settlement.bundlesVerified).toBe(true);
    expect(r.rejected.byReason.EQUIVOCATION).toBeUndefined();
    for (const kind of Object.keys(faults))
      expect(r.faults[kind as keyof typeof r.faults]?.injected, kind).toBeGreaterThan(0);
    const injected = Object.entries(r.faults)
      .map(([k, v]) => `${k} ${v.injected}`)
      .join(', ');
    const rejected = Object.entries(r.rejected.byReason)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    rec.record({
      case: `soak: ${DEVICES} devices x 20 units/s for ${SECONDS} s, every fault kind on`,
      expected:
        'signed = accepted = settled, nothing lost or doubled, no EQUIVOCATION from forgeries, bundles verified offline',
      observed: `units signed ${r.units.signed}, accepted ${r.units.accepted}, settled ${r.units.settled}; faults injected: ${injected}; rejected: ${rejected}; sign-to-receipt p50 ${r.latencyMs.p50} ms, max ${r.latencyMs.max} ms`,
      figures: {
        lost: r.lost,
        duplicated: r.duplicated,
        rejected: r.rejected.total,
        recoveryMs: Math.round(r.latencyMs.max),
      },
    });
  });
});
