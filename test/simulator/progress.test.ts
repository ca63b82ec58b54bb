// The live progress line: fits the terminal by dropping whole fields, never half of one.
import { describe, expect, it } from 'vitest';
import { formatProgress, type ProgressSample } from '../../simulator/progress.js';

const sample: ProgressSample = {
  phase: 'run',
  elapsedS: 7,
  durationS: 20,
  vouchersPerSec: 12_345,
  p99Ms: 3.25,
  backlog: 1_024,
  rejected: 3,
  connected: 10,
  devices: 10,
};

describe('progress line', () => {
  it('shows every field on a wide terminal', () => {
    expect(formatProgress(sample, 200)).toBe(
      'run  35% 7/20s | 12345 v/s | p99 3.3 ms | backlog 1024 | rejected 3 | online 10/10',
    );
  });

  it.each([80, 60, 50, 40, 30])('fits %i columns and keeps the fields it shows whole', (width) => {
    const line = formatProgress(sample, width);
    expect(line.length).toBeLessThan(width);
    const whole = formatProgress(sample, 200).split(' | ');
    for (const part of line.split(' | ')) expect(whole).toContain(part);
    // The fleet's connection count outlives throughput, latency and backlog.
    if (width >= 40) expect(line).toContain('online 10/10');
  });

  it('drops the least important fields first', () => {
    expect(formatProgress(sample, 80)).toBe('run  35% 7/20s | 12345 v/s | p99 3.3 ms | rejected 3 | online 10/10');
    expect(formatProgress(sample, 40)).toBe('run  35% 7/20s | online 10/10');
  });

  it('cuts the first field only when nothing else is left', () => {
    expect(formatProgress(sample, 8)).toBe('run  35');
  });
});
