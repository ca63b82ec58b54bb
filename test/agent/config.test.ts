import { describe, expect, it } from 'vitest';
import { ConfigError, OPTIONS, resolveConfig } from '../../agent/config.js';

const HUB = 'ab'.repeat(32);
const files = (map: Record<string, string>) => (p: string) => {
  if (!(p in map)) throw new Error(`ENOENT: ${p}`);
  return map[p]!;
};
const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
};

describe('resolveConfig', () => {
  it('gives defaults for every option that has one', () => {
    const c = resolveConfig('init');
    expect(c.data).toBe(OPTIONS.data.default);
    expect(c.batch).toBe(64);
    expect(c.batchMs).toBe(1000);
    expect(c.meter.kind).toBe('sim');
    expect(c.crashAt).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('takes flags over environment over file over defaults, one option at a time', () => {
    const readFile = files({
      'a.json': JSON.stringify({ batch: 10, batchMs: 200, window: 3, broker: 'mqtt://file:1883', hubKey: HUB }),
    });
    const c = resolveConfig('run', {
      flags: { config: 'a.json', batch: '30' },
      env: { TALLY_AGENT_BATCH: '20', TALLY_AGENT_BATCH_MS: '300' },
      readFile,
    });
    expect(c.batch).toBe(30); // flag
    expect(c.batchMs).toBe(300); // env over file
    expect(c.window).toBe(3); // file over default
    expect(c.broker).toBe('mqtt://file:1883');
    expect(Buffer.from(c.hubKey!).toString('hex')).toBe(HUB);
  });

  it('finds the config file from the environment too', () => {
    const c = resolveConfig('status', {
      env: { TALLY_AGENT_CONFIG: 'b.json' },
      readFile: files({ 'b.json': '{"data":"/srv/x"}' }),
    });
    expect(c.data).toBe('/srv/x');
  });

  it('requires broker and hub key for run, and reports every problem at once', () => {
    const problems = problemsOf(() => resolveConfig('run', { flags: { batch: '0', meter: 'nope' } }));
    expect(problems.join('\n')).toMatch(/batch .* at least 1/);
    expect(problems.join('\n')).toMatch(/meter "nope"/);
    expect(problems.join('\n')).toMatch(/broker is required/);
    expect(problems.join('\n')).toMatch(/hubKey is required/);
  });

  it('rejects bad values with the source they came from', () => {
    const p = problemsOf(() =>
      resolveConfig('run', {
        flags: { broker: 'http://x', hubKey: 'zz' },
        env: { TALLY_AGENT_BATCH: '2000', TALLY_AGENT_LOG_LEVEL: 'loud' },
      }),
    );
    expect(p.some((m) => m.includes('TALLY_AGENT_BATCH') && m.includes('at most 1024'))).toBe(true);
    expect(p.some((m) => m.includes('--hub-key') && m.includes('64 hex'))).toBe(true);
    expect(p.some((m) => m.includes('mqtt://'))).toBe(true);
    expect(p.some((m) => m.includes('logLevel'))).toBe(true);
  });

  it('rejects unknown keys, bad JSON and unreadable config files', () => {
    expect(
      problemsOf(() =>
        resolveConfig('init', { flags: { config: 'c.json' }, readFile: files({ 'c.json': '{"batchSize":3}' }) }),
      )[0],
    ).toMatch(/unknown option "batchSize"/);
    expect(
      problemsOf(() => resolveConfig('init', { flags: { config: 'c.json' }, readFile: files({ 'c.json': '{' }) }))[0],
    ).toMatch(/not valid JSON/);
    expect(
      problemsOf(() => resolveConfig('init', { flags: { config: 'c.json' }, readFile: files({ 'c.json': '[1]' }) }))[0],
    ).toMatch(/JSON object/);
    expect(
      problemsOf(() => resolveConfig('init', { flags: { config: 'missing.json' }, readFile: files({}) }))[0],
    ).toMatch(/cannot be read/);
  });

  it('parses the test-only crash point from the environment only', () => {
    expect(resolveConfig('init', { env: { TALLY_AGENT_CRASH_AT: 'after-commit:4' } }).crashAt).toEqual({
      point: 'after-commit',
      nth: 4,
    });
    expect(resolveConfig('init', { env: { TALLY_AGENT_CRASH_AT: 'before-commit' } }).crashAt).toEqual({
      point: 'before-commit',
      nth: 1,
    });
    expect(problemsOf(() => resolveConfig('init', { env: { TALLY_AGENT_CRASH_AT: 'somewhere' } }))[0]).toMatch(
      /TALLY_AGENT_CRASH_AT/,
    );
  });

  it('checks options that go together', () => {
    expect(problemsOf(() => resolveConfig('init', { flags: { tlsCert: 'c.pem' } }))[0]).toMatch(/together/);
    expect(
      problemsOf(() => resolveConfig('init', { flags: { reconnectMinMs: '500', reconnectMaxMs: '100' } }))[0],
    ).toMatch(/reconnectMinMs/);
  });
});
