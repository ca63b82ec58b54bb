// common/log.ts: the line shape operators ship, levels, the readable form, and the redaction fence.
import { describe, expect, it } from 'vitest';
import { CodedLog, formatPretty, LOG_LEVELS, SECRET_FIELDS } from '../../common/log.js';
import { redactUrl } from '../../common/redact-url.js';
import { captureLogs } from '../../support/log-capture.js';

const TABLE = {
  THING_DONE: { level: 'info', message: 'a thing was done' },
  THING_TRACED: { level: 'trace', message: 'a detail' },
} as const;

describe('structured logs', () => {
  it('write one JSON object a line: level label, ISO time, name, code, msg, fields', () => {
    const c = captureLogs('info', 'tally-test');
    new CodedLog(c.logger, TABLE).event('THING_DONE', { seq: '7' });
    expect(c.text().endsWith('\n')).toBe(true);
    expect(c.text().split('\n')).toHaveLength(2);
    const [line] = c.lines;
    expect(line).toEqual({
      level: 'info',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      name: 'tally-test',
      code: 'THING_DONE',
      seq: '7',
      msg: 'a thing was done',
    });
  });

  it('write nothing below the level, and nothing at silent', () => {
    const info = captureLogs('info');
    const log = new CodedLog(info.logger, TABLE);
    log.event('THING_TRACED');
    expect(log.enabled('trace')).toBe(false);
    expect(info.lines).toEqual([]);
    const silent = captureLogs('silent');
    new CodedLog(silent.logger, TABLE).line('fatal', 'THING_DONE', 'even fatal');
    expect(silent.lines).toEqual([]);
    expect(LOG_LEVELS).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);
  });

  it('redact fields named like secrets, at the top level and one level down', () => {
    const c = captureLogs('info');
    const secrets = Object.fromEntries(SECRET_FIELDS.map((f) => [f, `secret-${f}`]));
    c.logger.info({ code: 'X', ...secrets, config: { ...secrets }, keep: 'visible' }, 'm');
    expect(c.text()).not.toContain('secret-');
    expect(c.lines[0]).toMatchObject({ password: '[redacted]', config: { adminToken: '[redacted]' }, keep: 'visible' });
  });

  it('mask the password of a URL, and leave other URLs alone', () => {
    expect(redactUrl('mqtt://dev:s3cret@broker.example:1883')).toBe('mqtt://dev:***@broker.example:1883');
    expect(redactUrl('mqtts://broker.example:8883')).toBe('mqtts://broker.example:8883');
    expect(redactUrl('not a url://user:pw@host')).not.toContain('pw');
  });

  it('format a line for a terminal on one line, fields after the message', () => {
    const line = JSON.stringify({
      level: 'warn',
      time: '2026-11-28T14:02:11.381Z',
      name: 'tally-agent',
      code: 'LINK_DOWN',
      detail: 'lost',
      msg: 'disconnected',
    });
    expect(formatPretty(line)).toBe('14:02:11.381 WARN  LINK_DOWN disconnected detail=lost\n');
    expect(formatPretty('not json')).toBe('not json');
  });
});
