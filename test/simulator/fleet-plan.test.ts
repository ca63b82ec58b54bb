import { describe, expect, it } from 'vitest';
import { DEVICES_PER_FLEET_PROCESS, planFleet } from '../../simulator/fleet-plan.js';

const limit = { soft: 20_000, hard: 20_000 };
const base = { limit, margin: 256, embeddedHub: true };

describe('fleet processes', () => {
  it('keeps what was asked when it fits', () => {
    expect(planFleet({ ...base, devices: 500, requested: 0, auto: true })).toEqual({ workers: 0, reason: undefined });
    expect(planFleet({ ...base, devices: 4_000, requested: 1, auto: true })).toEqual({ workers: 1, reason: undefined });
  });

  it('spreads a large fleet over more processes when the count was not given, and says why', () => {
    const plan = planFleet({ ...base, devices: 20_000, requested: 1, auto: true });
    expect(plan.workers).toBe(20_000 / DEVICES_PER_FLEET_PROCESS);
    expect(plan.reason).toMatch(/at most 5000 devices per fleet process/);
    expect(planFleet({ ...base, devices: 20_000, requested: 2, auto: false })).toEqual({
      workers: 2,
      reason: undefined,
    });
  });

  it('never puts more sockets in a process than its descriptor limit holds, even when asked', () => {
    const plan = planFleet({ ...base, devices: 20_000, requested: 1, auto: false });
    expect(plan.workers).toBe(2);
    expect(plan.reason).toMatch(/exceed the descriptor limit of 20000/);
    // Beside an embedded hub, each connection is two sockets in one process.
    const inProcess = planFleet({ ...base, devices: 12_000, requested: 0, auto: false });
    expect(inProcess.workers).toBe(1);
    expect(inProcess.reason).toMatch(/24000 sockets in one process/);
  });

  it('has no descriptor bound where the limit is unknown', () => {
    expect(planFleet({ ...base, limit: undefined, devices: 50_000, requested: 1, auto: false }).workers).toBe(1);
  });
});
