import { describe, expect, it } from 'vitest';
import { BatchSchedule } from '../../agent/batch-schedule.js';

describe('batch schedule', () => {
  it('jitters the first deadline within the period, then keeps a grid batchMs apart', () => {
    const s = new BatchSchedule(10_000, () => 0.25);
    expect(s.delayFrom(1_000)).toBe(2_500); // grid point 3,500
    expect(s.delayFrom(3_600)).toBe(9_900); // next point 13,500
    expect(s.delayFrom(13_500)).toBe(10_000); // exactly on a point: the next one
  });

  it('a late timer does not move the grid: the next deadline is where it would have been', () => {
    const s = new BatchSchedule(10_000, () => 0.5);
    expect(s.delayFrom(0)).toBe(5_000);
    // The timer for 5,000 ran 3.2 s late (a busy CPU); the next unit arrives at 8,400.
    expect(s.delayFrom(8_400)).toBe(6_600); // still 15,000, not 18,400
    // Late by more than a period: the first grid point after now.
    expect(s.delayFrom(37_000)).toBe(8_000); // 45,000
  });

  it('a timer armed again before its deadline aims at the same point', () => {
    const s = new BatchSchedule(1_000, () => 0.9);
    expect(s.delayFrom(0)).toBe(900);
    expect(s.delayFrom(400)).toBe(500); // a full batch cancelled the timer; the grid stays
  });

  it('never waits longer than batchMs, even when the clock steps back', () => {
    const s = new BatchSchedule(1_000, () => 0.5);
    expect(s.delayFrom(1_000_000)).toBe(500);
    expect(s.delayFrom(1_000_000 - 3_600_000)).toBe(1_000); // an hour back
    for (const now of [0, 1, 999, 1_000, 1_001, 123_456]) expect(s.delayFrom(now)).toBeLessThanOrEqual(1_000);
  });

  it('starts over with a fresh jitter after restart, and never arms a zero delay', () => {
    const s = new BatchSchedule(10_000, () => 0);
    expect(s.delayFrom(0)).toBe(1);
    s.restart();
    expect(s.delayFrom(50_000)).toBe(1);
  });
});
