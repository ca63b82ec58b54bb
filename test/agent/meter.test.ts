import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock, Timer } from '../../agent/clock.js';
import { EMPTY_COUNTER, stepCounter } from '../../agent/meter/counter.js';
import { NANO } from '../../agent/meter/decimal.js';
import { createExecMeter } from '../../agent/meter/exec.js';
import { createFileMeter } from '../../agent/meter/file.js';
import { parseReading } from '../../agent/meter/reading.js';
import { createSimMeter } from '../../agent/meter/sim.js';
import { parseMeterSpec } from '../../agent/meter/spec.js';
import { createStreamMeter } from '../../agent/meter/stream.js';
import type { MeterSink } from '../../agent/meter/types.js';

/** A clock the test moves by hand; timers never fire on their own. */
function manualClock(start = 1_000_000) {
  let now = start;
  const timers: { at: number; every?: number; fn: () => void; live: boolean }[] = [];
  const clock: Clock = {
    now: () => now,
    after(ms, fn): Timer {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return {
        cancel: () => {
          t.live = false;
        },
      };
    },
    every(ms, fn): Timer {
      const t = { at: now + ms, every: ms, fn, live: true };
      timers.push(t);
      return {
        cancel: () => {
          t.live = false;
        },
      };
    },
  };
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      const due = timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      now = due.at;
      if (due.every !== undefined) due.at += due.every;
      else due.live = false;
      due.fn();
    }
    now = end;
  };
  return { clock, advance };
}

function sink() {
  const readings: bigint[] = [];
  const problems: string[] = [];
  const s: MeterSink = {
    reading: (v) => readings.push(v),
    problem: (code, detail) => problems.push(`${code} ${detail}`),
  };
  return { s, readings, problems };
}

describe('counter rule', () => {
  it('turns increases into units, sets a baseline first, and treats a decrease as a reset', () => {
    const N = NANO;
    const at = (baseline: bigint) => ({ baseline: baseline * N, remainder: 0n });
    expect(stepCounter(EMPTY_COUNTER, 500n * N, 0)).toMatchObject({ units: 0n, state: { baseline: 500n * N } });
    expect(stepCounter(at(500n), 503n * N, 0)).toMatchObject({ units: 3n, state: { baseline: 503n * N } });
    expect(stepCounter(at(503n), 503n * N, 0)).toMatchObject({ units: 0n, state: { baseline: 503n * N } });
    expect(stepCounter(at(503n), 2n * N, 0)).toMatchObject({
      units: 0n,
      state: { baseline: 2n * N },
      event: { code: 'METER_DECREASED', from: 503n * N, to: 2n * N },
    });
    const max = (1n << 64n) - 1n;
    expect(stepCounter(at(0n), max * N, 0).units).toBe(max);
  });
});

describe('readings and specs', () => {
  it('accepts only whole u64 numbers', () => {
    expect(parseReading(' 42\n')).toEqual({ ok: true, value: 42n });
    for (const bad of ['', '-1', '1.5', '1e3', 'abc', '18446744073709551616', '9'.repeat(80), '0x10']) {
      expect(parseReading(bad).ok, bad).toBe(false);
    }
  });
  it('parses meter specs with clear reasons', () => {
    expect(parseMeterSpec('sim:2.5')).toMatchObject({ ok: true, value: { kind: 'sim', milliUnitsPerSecond: 2500n } });
    expect(parseMeterSpec('file:/sys/x')).toMatchObject({ ok: true, value: { kind: 'file', path: '/sys/x' } });
    expect(parseMeterSpec('exec:cat /x')).toMatchObject({ ok: true, value: { kind: 'exec', command: 'cat /x' } });
    expect(parseMeterSpec('stdin')).toMatchObject({ ok: true, value: { kind: 'stdin' } });
    for (const bad of ['sim:0', 'sim:-1', 'sim:abc', 'sim:1.2345', 'file:', 'exec: ', 'gps:1', 'x']) {
      const r = parseMeterSpec(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.reason).toContain(bad);
    }
  });
});

describe('meter sources', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'tally-meter-'));
    dirs.push(d);
    return d;
  };

  it('sim counts units of the injected clock from where the agent left off', async () => {
    const { clock, advance } = manualClock();
    const m = createSimMeter(10_000n, clock); // 10 units/s
    const { s, readings } = sink();
    m.start(s, 1000n);
    advance(1000);
    expect(readings[readings.length - 1]).toBe(1010n);
    advance(500);
    await m.pollNow();
    expect(readings[readings.length - 1]).toBe(1015n);
    await m.stop();
    advance(5000);
    expect(readings[readings.length - 1]).toBe(1015n);
  });

  it('file reads the counter, reports a missing file and garbage without a reading', async () => {
    const { clock } = manualClock();
    const path = join(tmp(), 'c');
    const m = createFileMeter(path, 1000, clock);
    const { s, readings, problems } = sink();
    m.start(s, undefined);
    await m.pollNow();
    expect(problems.some((p) => p.startsWith('METER_UNREADABLE') && p.includes('ENOENT'))).toBe(true);
    writeFileSync(path, 'garbage\n');
    await m.pollNow();
    expect(problems.some((p) => p.startsWith('METER_BAD_READING'))).toBe(true);
    writeFileSync(path, 'header\n123\n');
    await m.pollNow();
    expect(readings).toEqual([123n]);
    await m.stop();
  });

  it('exec runs the command and reports a failing one', async () => {
    const { clock } = manualClock();
    const dir = tmp();
    const ok = createExecMeter(`echo noise; echo 77`, 1000, clock);
    const a = sink();
    ok.start(a.s, undefined);
    await ok.pollNow();
    expect(a.readings).toContain(77n);
    await ok.stop();
    const bad = createExecMeter(`exit 3`, 1000, clock);
    const b = sink();
    bad.start(b.s, undefined);
    await bad.pollNow();
    expect(b.readings).toEqual([]);
    expect(b.problems[0]).toMatch(/^METER_UNREADABLE/);
    await bad.stop();
    void dir;
  });

  it('stdin takes one reading per line and caps line length', async () => {
    const input = new PassThrough();
    const m = createStreamMeter(input);
    const { s, readings, problems } = sink();
    m.start(s, undefined);
    input.write('10\n\n2');
    input.write('0\nbad\n');
    input.write('x'.repeat(300));
    input.write('\n30\n');
    await new Promise((r) => setImmediate(r));
    expect(readings).toEqual([10n, 20n, 30n]);
    expect(problems.length).toBe(2);
    await m.stop();
  });
});
