// The simulator end to end over the real agent, the real embedded hub and broker, and real SQLite
// files: conservation under every fault kind, and forged or replayed traffic never counted.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../simulator/faults.js';
import { runSimulation, type SimOptions } from '../../simulator/run.js';

const quiet = new Writable({ write: (_c, _e, cb) => cb() });

function options(overrides: Partial<SimOptions>): SimOptions {
  return {
    devices: 6,
    ratePerDevice: 20,
    durationS: 5,
    seed: 7,
    arrivals: 'poisson',
    faults: {},
    remote: undefined,
    batch: 8,
    batchMs: 300,
    window: 8,
    workers: 0,
    drainTimeoutS: 60,
    progress: quiet,
    log: () => {},
    ...overrides,
  };
}

describe('tally-sim', () => {
  it('refuses options that would simulate nothing', async () => {
    await expect(runSimulation({ ...options({}), workers: undefined as unknown as number })).rejects.toThrow(
      /workers must be/,
    );
    await expect(runSimulation(options({ devices: 0 }))).rejects.toThrow(/devices must be/);
  });

  it('conserves every unit with every fault kind on at once', async () => {
    const faults = parseFaults([
      'disconnect=0.05',
      'kill-agent=0.05',
      'duplicate=0.2',
      'reorder=0.2',
      'tamper=0.2',
      'replay=0.2',
      'broker-restart=2',
      'clock-skew=7200',
    ]);
    const r = await runSimulation(options({ devices: 8, durationS: 6, faults }));
    expect(r.mismatches).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.lost).toBe('0');
    expect(r.duplicated).toBe('0');
    expect(BigInt(r.units.signed)).toBeGreaterThan(0n);
    expect(r.units.metered).toBe(r.units.signed);
    expect(r.units.accepted).toBe(r.units.signed);
    expect(r.units.settled).toBe(r.units.signed);
    expect(r.amount.settled).toBe(r.amount.signed);
    expect(r.settlement.bundlesVerified).toBe(true);
    for (const kind of Object.keys(faults))
      expect(r.faults[kind as keyof typeof r.faults]?.injected, kind).toBeGreaterThan(0);
    // Forgeries must never pass as a device's own double-signing.
    expect(r.rejected.byReason.EQUIVOCATION).toBeUndefined();
    // The embedded hub's group commits in the steady window: at least one, at most one per segment.
    const steady = r.process.steady!;
    expect(steady.groupCommits).toBeGreaterThan(0);
    expect(steady.groupCommits).toBeLessThanOrEqual(steady.vouchers);
  });

  it('rejects every forged and replayed segment and counts none of them', async () => {
    const r = await runSimulation(options({ devices: 3, faults: parseFaults(['tamper=1', 'replay=0.5']) }));
    expect(r.ok).toBe(true);
    expect(r.units.accepted).toBe(r.units.signed);
    const injected = (r.faults.tamper?.injected ?? 0) + (r.faults.replay?.injected ?? 0);
    expect(r.faults.tamper?.injected).toBeGreaterThan(10);
    // Each forged or replayed copy is refused (or acknowledged as a duplicate) exactly once.
    expect(r.rejected.total).toBeGreaterThanOrEqual(injected);
    expect(r.rejected.byReason.EQUIVOCATION).toBeUndefined();
  });
});
