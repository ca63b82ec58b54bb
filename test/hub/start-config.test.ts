// Where `tally-hub start` takes its settings from: flags > TALLY_HUB_* environment > the JSON
// config file > defaults, secrets from files, and every problem of every source in one
// ConfigError. Pure: the files are read through an injected reader.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/config-error.js';
import { resolveConfig } from '../../hub/base/config.js';
import { envName, START_OPTIONS, startSettings } from '../../hub/cli/start-config.js';

const files = (map: Record<string, string>) => (path: string) => {
  if (!(path in map)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return map[path]!;
};

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
};

describe('tally-hub start settings', () => {
  it('names each variable after its flag', () => {
    expect(envName('mqttTlsListen')).toBe('TALLY_HUB_MQTT_TLS_LISTEN');
    expect(envName('brokerPasswordFile')).toBe('TALLY_HUB_BROKER_PASSWORD_FILE');
    expect(envName('http')).toBe('TALLY_HUB_HTTP');
  });

  it('takes a flag over the environment, the environment over the file, the file over the defaults', () => {
    const file = JSON.stringify({
      http: '127.0.0.1:1001',
      mqttListen: '127.0.0.1:1002',
      connectsPerSecond: 7,
      allowedHost: ['hub.example.net'],
      settleEvery: '15m',
    });
    const s = startSettings({
      flags: { config: '/etc/hub.json', http: '127.0.0.1:3001' },
      env: { TALLY_HUB_HTTP: '127.0.0.1:2001', TALLY_HUB_MQTT_LISTEN: '127.0.0.1:2002', TALLY_HUB_QUIET: 'true' },
      readFile: files({ '/etc/hub.json': file }),
    });
    expect(s.input.http).toBe('127.0.0.1:3001');
    expect(s.input.mqttListen).toBe('127.0.0.1:2002');
    expect(s.input.mqttConnectsPerSecond).toBe(7);
    expect(s.input.httpAllowedHosts).toEqual(['hub.example.net']);
    expect(s.quiet).toBe(true);
    expect(s.from).toMatchObject({
      http: '--http',
      mqttListen: 'TALLY_HUB_MQTT_LISTEN',
      connectsPerSecond: '/etc/hub.json: connectsPerSecond',
    });
    const config = resolveConfig(s.input);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 3001 });
    expect(config.settleEveryMs).toBe(15 * 60_000);
    expect(config.credentialWindowMs).toBe(24 * 3_600_000); // the default
  });

  it('finds the config file through TALLY_HUB_CONFIG too', () => {
    const s = startSettings({
      flags: {},
      env: { TALLY_HUB_CONFIG: '/c.json' },
      readFile: files({ '/c.json': '{"network":"site-7"}' }),
    });
    expect(s.input.network).toBe('site-7');
  });

  it('reads a secret from its file, without the trailing newline', () => {
    const s = startSettings({
      flags: {},
      env: { TALLY_HUB_BROKER: 'mqtts://broker:8883', TALLY_HUB_BROKER_PASSWORD_FILE: '/run/credentials/pw' },
      readFile: files({ '/run/credentials/pw': 's3cret with spaces\n' }),
    });
    expect(s.input.brokerPassword).toBe('s3cret with spaces');
    expect(s.input.brokerUrl).toBe('mqtts://broker:8883');
    expect(JSON.stringify(s.from)).not.toContain('s3cret');
  });

  it('lists every problem of every source at once', () => {
    const problems = problemsOf(() =>
      startSettings({
        flags: { config: '/hub.json', brokerPasswordFile: '/missing', connectsPerSecond: 'many' },
        env: { TALLY_HUB_MAX_LIVE_STREAMS: '-3', TALLY_HUB_BROKER_INSECURE: 'maybe', TALLY_HUB_HTTP: 'nowhere' },
        readFile: files({ '/hub.json': '{"mqttListen": "127.0.0.1:1883", "colour": "blue", "verifyWorkers": "x"}' }),
      }),
    );
    expect(problems).toEqual([
      'config file /hub.json: unknown option "colour"',
      '--broker-password-file: /missing cannot be read: ENOENT',
      'TALLY_HUB_BROKER_INSECURE must be true or false, got "maybe"',
      'TALLY_HUB_MAX_LIVE_STREAMS must be a whole number, got "-3"',
      '--connects-per-second must be a whole number, got "many"',
      '/hub.json: verifyWorkers must be a whole number, got "x"',
      'not HOST:PORT: nowhere',
    ]);
  });

  it('refuses a config file that is not a JSON object, and a password given twice', () => {
    expect(
      problemsOf(() => startSettings({ flags: { config: '/a' }, env: {}, readFile: files({ '/a': '[1]' }) })),
    ).toEqual(['config file /a must hold a JSON object']);
    expect(
      problemsOf(() => startSettings({ flags: { config: '/b' }, env: {}, readFile: files({ '/b': '{nope' }) }))[0],
    ).toMatch(/^config file \/b is not valid JSON/);
    expect(
      problemsOf(() =>
        startSettings({
          flags: { brokerPassword: 'a', broker: 'mqtt://x:1883' },
          env: { TALLY_HUB_BROKER_PASSWORD_FILE: '/p' },
          readFile: files({ '/p': 'b' }),
        }),
      ),
    ).toEqual(['broker password given twice (--broker-password and TALLY_HUB_BROKER_PASSWORD_FILE): keep one']);
  });

  it('has an entry for every option, each with a distinct variable', () => {
    const names = Object.keys(START_OPTIONS).map(envName);
    expect(new Set(names).size).toBe(names.length);
  });
});
