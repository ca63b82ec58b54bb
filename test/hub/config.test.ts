// The hub's configuration: defaults from one table, every field checked once, and every problem
// reported together in one ConfigError (the shape the agent uses too).
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/config-error.js';
import { DEFAULTS, parseDuration, parseHostPort, resolveConfig } from '../../hub/base/config.js';

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

describe('hub resolveConfig', () => {
  it('applies the defaults table and freezes the result', () => {
    const c = resolveConfig({});
    expect(c.mqttListen).toEqual(parseHostPort(DEFAULTS.mqttListen));
    expect(c.http).toEqual(parseHostPort(DEFAULTS.http));
    expect(c.credentialWindowMs).toBe(DEFAULTS.credentialWindowMs);
    expect(c.reorderWindowMs).toBe(DEFAULTS.reorderWindowMs);
    expect(c.sqliteSynchronous).toBe('FULL');
    expect(c.verifyWorkers).toBeGreaterThanOrEqual(1);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('takes durations as milliseconds or as the CLI writes them', () => {
    const c = resolveConfig({ settleEveryMs: '15m', credentialWindowMs: 90_000 });
    expect(c.settleEveryMs).toBe(15 * 60_000);
    expect(c.credentialWindowMs).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
  });

  it('lists every problem at once, not the first only', () => {
    const problems = problemsOf(() =>
      resolveConfig({
        http: 'nowhere',
        brokerUrl: 'http://broker',
        network: 'Not A Network',
        settleEveryMs: 'soon',
        verifyWorkers: Number('two'),
        reorderWindowMs: 0,
        sqliteSynchronous: 'OFF' as 'FULL',
      }),
    );
    expect(problems).toEqual([
      '--broker must be an mqtt:// or mqtts:// URL: http://broker',
      'network must be 1-64 characters of [a-z0-9._-] [P-3.1]',
      'sqliteSynchronous is FULL or NORMAL',
      'not HOST:PORT: nowhere',
      'not a duration (e.g. 30s, 15m, 1h): soon',
      'reorderWindowMs must be an integer >= 1',
      'verifyWorkers must be an integer >= 0',
    ]);
  });

  it('gives a standalone parse its one problem in the same shape', () => {
    expect(problemsOf(() => parseHostPort('1.2.3.4:70000'))).toEqual(['port out of range: 1.2.3.4:70000']);
  });
});
