// Which filters a hub subscribes for its partitions [P-6.7], and how `tally-hub start` takes the
// partition options from a flag, a TALLY_HUB_* variable or the config file. Pure: no broker.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/config-error.js';
import { EACH_FILTER_LIMIT, filtersFor } from '../../hub/broker/partition-filters.js';
import { startSettings } from '../../hub/cli/start-config.js';
import { resolveConfig } from '../../hub/base/config.js';
import { HUB_UPLINK_FILTER, LEGACY_UPLINK_FILTER, partitionUplinkFilter } from '../../protocol/index.js';

const range = (from: number, to: number) => new Set(Array.from({ length: to - from + 1 }, (_, i) => from + i));

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
};

describe('partition filters', () => {
  it('takes every partition and topic layout 1 when the hub owns them all, in every mode', () => {
    for (const mode of ['auto', 'each', 'wildcard'] as const) {
      expect(filtersFor(range(0, 255), mode)).toEqual([HUB_UPLINK_FILTER, LEGACY_UPLINK_FILTER]);
    }
  });

  it('auto: one filter per partition up to the limit, the wildcard above it', () => {
    const few = range(40, 40 + EACH_FILTER_LIMIT - 1);
    expect(filtersFor(few)).toEqual([...few].map(partitionUplinkFilter));
    expect(filtersFor(range(40, 40 + EACH_FILTER_LIMIT))).toEqual([HUB_UPLINK_FILTER]);
    expect(filtersFor(range(0, 127))).toEqual([HUB_UPLINK_FILTER]);
    expect(filtersFor(new Set())).toEqual([]);
  });

  it('each and wildcard hold whatever the count', () => {
    expect(filtersFor(range(0, 127), 'each')).toHaveLength(128);
    expect(filtersFor(new Set([7, 3]), 'each')).toEqual([partitionUplinkFilter(3), partitionUplinkFilter(7)]);
    expect(filtersFor(new Set([3]), 'wildcard')).toEqual([HUB_UPLINK_FILTER]);
    expect(filtersFor(new Set(), 'wildcard')).toEqual([]);
  });
});

describe('tally-hub start: partitions at an external broker', () => {
  it('takes them from the flags, the environment or the config file', () => {
    const s = startSettings({
      flags: { broker: 'mqtt://a:1883,mqtt://b:1883', partitions: '0-127' },
      env: { TALLY_HUB_PARTITION_FILTERS: 'each', TALLY_HUB_BROKER_CLIENT_ID: 'tally-hub-x-a' },
    });
    const c = resolveConfig(s.input);
    expect(c.brokerUrl).toBe('mqtt://a:1883,mqtt://b:1883');
    expect(c.partitions).toEqual([...range(0, 127)]);
    expect(c.partitionFilters).toBe('each');
    expect(c.brokerClientId).toBe('tally-hub-x-a');
    const fromFile = startSettings({
      flags: { config: '/hub.json' },
      env: {},
      readFile: () => JSON.stringify({ broker: 'mqtt://a:1883', partitions: '128-255', partitionFilters: 'wildcard' }),
    });
    expect(resolveConfig(fromFile.input).partitions).toHaveLength(128);
    expect(resolveConfig(fromFile.input).partitionFilters).toBe('wildcard');
    expect(resolveConfig({}).partitionFilters).toBe('auto');
  });

  it('refuses a bad set, an unknown mode, a bad client id and partitions without a broker, all at once', () => {
    expect(
      problemsOf(() =>
        resolveConfig({
          partitions: '0-300',
          partitionFilters: 'some',
          brokerClientId: 'hub-1',
          brokerUrl: 'mqtt://a',
        }),
      ),
    ).toEqual([
      expect.stringMatching(/^--broker-client-id must be tally-hub- /),
      expect.stringMatching(/^--partitions: /),
      '--partition-filters must be one of auto, each, wildcard: some',
    ]);
    expect(problemsOf(() => resolveConfig({ partitions: '0-127' }))).toEqual([
      '--partitions needs --broker: the embedded broker serves every partition',
    ]);
    expect(problemsOf(() => resolveConfig({ brokerUrl: 'mqtt://a:1883,http://b' }))).toEqual([
      '--broker must be mqtt:// or mqtts:// URLs, comma-separated: mqtt://a:1883,http://b',
    ]);
  });
});
