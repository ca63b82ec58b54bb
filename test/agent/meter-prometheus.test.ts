// Prometheus meters: the text-format reader (agent/meter/prom-text.ts) against pages written by
// prom-client, a real implementation of the exposition format (label escapes included), and the
// meter against a live node:http endpoint serving such a page.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../agent/clock.js';
import { NANO } from '../../agent/meter/decimal.js';
import { createPrometheusMeter, readPage, type PrometheusSpec } from '../../agent/meter/prometheus.js';
import { findSamples, parseLine, parseSelector } from '../../agent/meter/prom-text.js';
import { parseMeterSpec } from '../../agent/meter/spec.js';
import type { MeterSink } from '../../agent/meter/types.js';

const spec = (text: string): PrometheusSpec => {
  const r = parseMeterSpec(text);
  if (!r.ok || r.value.kind !== 'prometheus') throw new Error(r.ok ? 'not prometheus' : r.reason);
  return r.value;
};

/** A page as node_exporter and friends write it, with the corners of the format. */
const PAGE = [
  '# HELP node_network_transmit_bytes_total Network device statistic transmit_bytes.',
  '# TYPE node_network_transmit_bytes_total counter',
  'node_network_transmit_bytes_total{device="eth0"} 1.2345678e+07',
  'node_network_transmit_bytes_total{device="lo"} 4096',
  'node_network_transmit_bytes_total{device="wlan0",} 17 1709294400000',
  '# a free comment',
  '',
  'api_calls_total{path="/v1/\\"quoted\\"",code="200"}\t42',
  'api_calls_total{path="C:\\\\dir\\nline",code="200"} 7 # {trace_id="abc"} 1.0',
  'weird_total{a="b"} NaN',
  'broken_total{a="b} 1',
  'process_cpu_seconds_total 12.47',
].join('\n');

describe('text exposition format', () => {
  it('reads samples with labels, escapes, trailing commas, timestamps and exemplars', () => {
    expect(parseLine('# TYPE x counter')).toEqual({ ok: true, value: undefined });
    expect(parseLine('   ')).toEqual({ ok: true, value: undefined });
    const eth0 = findSamples(PAGE, 'node_network_transmit_bytes_total', new Map([['device', 'eth0']]));
    expect(eth0.found.map((s) => s.value)).toEqual(['1.2345678e+07']);
    const wlan = findSamples(PAGE, 'node_network_transmit_bytes_total', new Map([['device', 'wlan0']])).found[0]!;
    expect(wlan).toMatchObject({ value: '17', timestampMs: 1709294400000n });
    const quoted = findSamples(PAGE, 'api_calls_total', new Map([['path', '/v1/"quoted"']])).found;
    expect(quoted.map((s) => s.value)).toEqual(['42']);
    const escaped = findSamples(PAGE, 'api_calls_total', new Map([['path', 'C:\\dir\nline']])).found;
    expect(escaped.map((s) => s.value)).toEqual(['7']);
    expect(findSamples(PAGE, 'broken_total', new Map()).malformed).toBe(1);
    for (const bad of [
      'x{a="b"',
      'x{a=b} 1',
      'x{a="b",a="c"} 1',
      'x{a="\\t"} 1',
      '{a="b"} 1',
      'x',
      'x 1 2 3',
      'x 1 12.5',
    ]) {
      expect(parseLine(bad).ok, bad).toBe(false);
    }
  });

  it('reads back any label value prom-client writes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat({ max: 1_000_000 }), async (value, n) => {
        const registry = new Registry();
        const c = new Counter({ name: 'meter_units_total', help: 'h', labelNames: ['who'], registers: [registry] });
        c.inc({ who: value }, n);
        c.inc({ who: `${value}-other` }, 1);
        const page = await registry.metrics();
        const found = findSamples(page, 'meter_units_total', new Map([['who', value]])).found;
        expect(found.map((s) => s.value)).toEqual([String(n)]);
      }),
      { numRuns: 100 },
    );
  });

  it('parses selectors and specs, with ?scale after the selector', () => {
    expect(parseSelector('m{a="x?y",b="\\""}')).toMatchObject({
      ok: true,
      name: 'm',
      labels: new Map([
        ['a', 'x?y'],
        ['b', '"'],
      ]),
    });
    const s = spec(
      'prometheus:http://u:pw@127.0.0.1:9100/metrics?x=1#node_network_transmit_bytes_total{device="eth0"}?scale=0.0009765625',
    );
    expect(s).toMatchObject({
      url: 'http://u:pw@127.0.0.1:9100/metrics?x=1',
      metric: 'node_network_transmit_bytes_total',
      labels: new Map([['device', 'eth0']]),
      scale: { coef: 9765625n, exp: -10 },
    });
    expect(s.text).not.toContain('pw');
    for (const bad of [
      'prometheus:http://h/metrics',
      'prometheus:ftp://h/metrics#m',
      'prometheus:http://h/metrics#',
      'prometheus:http://h/metrics#m{a=b}',
      'prometheus:http://h/metrics#m?scale=0',
      'prometheus:http://h/metrics#m?step=2',
      'prometheus:http://h/metrics#m x',
    ]) {
      expect(parseMeterSpec(bad).ok, bad).toBe(false);
    }
  });

  it('needs exactly one series with a non-negative number', () => {
    const page = PAGE;
    const one = { coef: 1n, exp: 0 };
    expect(
      readPage(page, {
        metric: 'node_network_transmit_bytes_total',
        labels: new Map([['device', 'eth0']]),
        scale: one,
      }),
    ).toEqual({
      ok: true,
      value: 12_345_678n * NANO,
    });
    expect(readPage(page, { metric: 'process_cpu_seconds_total', labels: new Map(), scale: one })).toEqual({
      ok: true,
      value: 12_470_000_000n,
    });
    const many = readPage(page, { metric: 'node_network_transmit_bytes_total', labels: new Map(), scale: one });
    expect(many).toMatchObject({ ok: false, reason: expect.stringContaining('3 series match') });
    expect(readPage(page, { metric: 'weird_total', labels: new Map(), scale: one }).ok).toBe(false);
    expect(readPage(page, { metric: 'absent_total', labels: new Map(), scale: one }).ok).toBe(false);
  });
});

describe('prometheus meter against a live endpoint', () => {
  let server: Server | undefined;
  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  });

  it('scrapes a prom-client counter exactly, follows an exporter restart as a reset, reports HTTP errors', async () => {
    let registry = new Registry();
    let calls = new Counter({
      name: 'api_calls_total',
      help: 'API calls',
      labelNames: ['device'],
      registers: [registry],
    });
    let failing = false;
    server = createServer((req, res) => {
      if (failing) {
        res.writeHead(503).end('down');
        return;
      }
      void registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType }).end(text);
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const meter = createPrometheusMeter(
      spec(`prometheus:http://127.0.0.1:${port}/metrics#api_calls_total{device="pi-7"}`),
      1000,
      systemClock,
    );
    const readings: bigint[] = [];
    const problems: string[] = [];
    const s: MeterSink = {
      reading: (v, nanos = 0n) => readings.push(v * NANO + nanos),
      problem: (code, detail) => problems.push(`${code} ${detail}`),
    };
    meter.start(s, undefined);
    try {
      await meter.pollNow();
      expect(problems).toEqual([
        expect.stringMatching(/^METER_BAD_READING .*no series api_calls_total\{device="pi-7"\}/),
      ]);
      calls.inc({ device: 'pi-7' }, 40);
      calls.inc({ device: 'pi-8' }, 1000);
      await meter.pollNow();
      calls.inc({ device: 'pi-7' }, 2.5);
      await meter.pollNow();
      expect(readings).toEqual([40n * NANO, 42_500_000_000n]);
      failing = true;
      await meter.pollNow();
      expect(problems[1]).toMatch(/^METER_UNREADABLE .*HTTP 503/);
      // The exporter restarts: its counters start again from zero.
      failing = false;
      registry = new Registry();
      calls = new Counter({
        name: 'api_calls_total',
        help: 'API calls',
        labelNames: ['device'],
        registers: [registry],
      });
      calls.inc({ device: 'pi-7' }, 3);
      await meter.pollNow();
      expect(readings).toEqual([40n * NANO, 42_500_000_000n, 3n * NANO]);
    } finally {
      await meter.stop();
    }
  });
});
