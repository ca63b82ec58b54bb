import { describe, expect, it } from 'vitest';
import { StageJoin } from '../../simulator/stages.js';

describe('latency by stage', () => {
  it('splits one segment into its four stages, whichever side reports first', () => {
    for (const hubFirst of [true, false]) {
      const join = new StageJoin();
      // committed 0, published 2, reached the hub 5, committed there 9, receipt out 10, back 13.
      const hub = () => join.hubSide('aa', 7n, 5, 9, 10);
      const fleet = () => join.fleetSide('aa', 7, 0, 2, 13);
      // The fleet's stamps are kept for the join only once the hub is known to report.
      hub();
      if (!hubFirst) join.hubSide('bb', 1n, 0, 0, 0);
      fleet();
      const r = join.report();
      expect(r.stages.agent!.p50).toBe(2);
      expect(r.stages.brokerNetwork!.p50).toBe(3);
      expect(r.stages.hubCommit!.max).toBe(4);
      expect(r.stages.hubReceipt!.max).toBe(1);
      expect(r.stages.back!.p50).toBe(3);
      expect(r.stages.total!.p50).toBe(13);
      expect(r.joined).toBe(1);
      expect(r.clockAnomalies).toBe(0);
      join.destroy();
    }
  });

  it('leaves the network stages out when the hub gives no stamps (a running hub)', () => {
    const join = new StageJoin();
    join.fleetSide('aa', 1, 0, 1, 20);
    const r = join.report();
    expect(r.stages.agent!.p50).toBe(1);
    expect(r.stages.total!.p50).toBe(20);
    expect(r.stages.brokerNetwork).toBeNull();
    expect(r.stages.hub).toBeNull();
    expect(r.unmatched).toBe(0);
    join.destroy();
  });

  it('counts a cross-process stage that comes out negative as a clock anomaly, not as a latency', () => {
    const join = new StageJoin();
    // The hub saw the segment 1 ms before the agent published it: the clock was stepped.
    join.hubSide('aa', 3n, 9, 10, 11);
    join.fleetSide('aa', 3, 0, 10, 12);
    const r = join.report();
    expect(r.clockAnomalies).toBe(1);
    expect(r.stages.brokerNetwork!.max).toBeLessThanOrEqual(0.001);
    join.destroy();
  });

  it('gives up stamps whose other half never comes, and counts them', () => {
    const join = new StageJoin();
    join.hubSide('aa', 1n, 0, 1, 2);
    join.hubSide('aa', 2n, 100_000, 100_001, 100_002);
    join.prune(100_010);
    expect(join.report().unmatched).toBe(2); // one given up, one still waiting
    join.fleetSide('aa', 2, 99_990, 99_995, 100_010);
    expect(join.report()).toMatchObject({ joined: 1, unmatched: 1 });
    join.destroy();
  });
});
