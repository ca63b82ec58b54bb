// prometheus:URL#SELECTOR[?scale=S]: a counter scraped from a Prometheus endpoint every pollMs
// (metering compute seconds, API calls or bytes per device). SELECTOR is `name` or
// `name{label="value",...}` and must match exactly one series on the page; its value is the
// cumulative reading. A counter that restarts from zero (the exporter restarted) is a reset,
// handled like any other (counter.ts).
import type { Clock } from '../clock.js';
import { NANO, parseDecimal, toNanos, type Decimal } from './decimal.js';
import { parseScale, readParams, type Parsed } from './params.js';
import { createPollingMeter } from './polling.js';
import { findSamples, parseSelector } from './prom-text.js';
import type { MeterSource } from './types.js';

export interface PrometheusSpec {
  readonly kind: 'prometheus';
  readonly url: string;
  readonly metric: string;
  readonly labels: ReadonlyMap<string, string>;
  readonly scale: Decimal;
  /** The spec with any password masked. */
  readonly text: string;
}

/** node_exporter's page is about 100-300 KiB; anything far larger is not a metrics page. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export function parsePrometheusSpec(text: string): Parsed<PrometheusSpec> {
  const arg = text.slice('prometheus:'.length);
  const hash = arg.indexOf('#');
  if (hash < 0) return { ok: false, reason: 'expected prometheus:URL#METRIC or prometheus:URL#METRIC{label="value"}' };
  let url: URL;
  try {
    url = new URL(arg.slice(0, hash));
  } catch {
    return { ok: false, reason: 'URL is not valid' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: 'URL must be http:// or https://' };
  // The selector ends at its name or its closing brace; ?scale= may follow.
  const rest = arg.slice(hash + 1);
  const q = selectorEnd(rest);
  const selector = parseSelector(rest.slice(0, q));
  if (!selector.ok) return { ok: false, reason: `selector: ${selector.reason}` };
  const params = readParams(rest.slice(q), ['scale']);
  if (!params.ok) return params;
  const scale = parseScale(params.value.get('scale'));
  if (!scale.ok) return scale;
  const shown = new URL(url.href);
  if (shown.password !== '') shown.password = '***';
  return {
    ok: true,
    value: Object.freeze({
      kind: 'prometheus',
      url: url.href,
      metric: selector.name,
      labels: selector.labels,
      scale: scale.value,
      text: `prometheus:${shown.href}#${rest}`,
    }),
  };
}

/** Index of the "?" that starts the options, outside any quoted label value; or the end. */
function selectorEnd(s: string): number {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    if (quoted && s[i] === '\\') i++;
    else if (s[i] === '"') quoted = !quoted;
    else if (!quoted && s[i] === '?') return i;
  }
  return s.length;
}

/** The reading on one page, in nano-units. */
export function readPage(page: string, spec: Pick<PrometheusSpec, 'metric' | 'labels' | 'scale'>): Parsed<bigint> {
  const { found } = findSamples(page, spec.metric, spec.labels);
  const what = `${spec.metric}${spec.labels.size > 0 ? `{${[...spec.labels].map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}` : ''}`;
  if (found.length === 0) return { ok: false, reason: `no series ${what} on the page` };
  if (found.length > 1) return { ok: false, reason: `${found.length} series match ${what}: add labels to pick one` };
  const d = parseDecimal(found[0]!.value);
  if (!d.ok) return { ok: false, reason: `${what} = ${found[0]!.value.slice(0, 24)}: ${d.reason}` };
  return toNanos(d.value, spec.scale);
}

export function createPrometheusMeter(
  spec: PrometheusSpec,
  pollMs: number,
  clock: Clock,
  description = spec.text,
): MeterSource {
  const timeoutMs = Math.max(1000, Math.min(pollMs, 30_000));
  const host = new URL(spec.url).host;
  return createPollingMeter(description, pollMs, clock, async (sink) => {
    let page: string;
    try {
      page = await fetchPage(spec.url, timeoutMs);
    } catch (err) {
      sink?.problem('METER_UNREADABLE', `${host}: ${(err as Error).message}`);
      return;
    }
    const r = readPage(page, spec);
    if (r.ok) sink?.reading(r.value / NANO, r.value % NANO);
    else sink?.problem('METER_BAD_READING', `${host}: ${r.reason}`);
  });
}

async function fetchPage(url: string, timeoutMs: number): Promise<string> {
  // Loaded on first use: node:http and node:https cost the other meters about 1 MiB of RSS.
  const { get } = url.startsWith('https:') ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    // Ask for the text format: some exporters would answer OpenMetrics or protobuf otherwise.
    const req = get(
      url,
      { headers: { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' }, timeout: timeoutMs },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode ?? '?'}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) {
            req.destroy(new Error(`page larger than ${MAX_BODY_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
