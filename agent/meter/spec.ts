// Parses the --meter option: sim:RATE | file:PATH | exec:CMD | stdin | modbus-tcp://... |
// modbus-rtu:... | sdm630:... | mqtt://... | prometheus:... . The kind is the text before the
// first colon; the URL-shaped kinds parse their own options next to their source.
import { parseModbusSpec, type ModbusSpec } from './modbus.js';
import { parseMqttMeterSpec, type MqttMeterSpec } from './mqtt-json.js';
import { parsePrometheusSpec, type PrometheusSpec } from './prometheus.js';

export type MeterSpec =
  | { readonly kind: 'sim'; readonly milliUnitsPerSecond: bigint; readonly text: string }
  | { readonly kind: 'file'; readonly path: string; readonly text: string }
  | { readonly kind: 'exec'; readonly command: string; readonly text: string }
  | { readonly kind: 'stdin'; readonly text: string }
  | ModbusSpec
  | MqttMeterSpec
  | PrometheusSpec;

/** For messages and --help. */
export const METER_KINDS = 'sim, file, exec, stdin, modbus-tcp, modbus-rtu, sdm630, mqtt, mqtts or prometheus';

export type SpecResult = { ok: true; value: MeterSpec } | { ok: false; reason: string };

/** Highest synthetic rate: 1,000,000 units/s is far beyond any real meter and keeps the sim cheap. */
const MAX_SIM_RATE_MILLI = 1_000_000_000n;

export function parseMeterSpec(text: string): SpecResult {
  const bad = (why: string): SpecResult => ({ ok: false, reason: `meter "${text}": ${why}` });
  if (text === 'stdin') return { ok: true, value: Object.freeze({ kind: 'stdin', text }) };
  const colon = text.indexOf(':');
  if (colon < 0) return bad(`expected KIND:ARGUMENT with KIND one of ${METER_KINDS}`);
  const kind = text.slice(0, colon);
  const arg = text.slice(colon + 1);
  switch (kind) {
    case 'sim': {
      // A decimal rate with up to 3 decimals, kept as an integer of milli-units per second so that
      // unit counts never go through a float.
      const m = /^(\d{1,7})(?:\.(\d{1,3}))?$/.exec(arg);
      if (m === null) return bad('RATE must be a decimal number of units per second, e.g. sim:10 or sim:0.5');
      const milli = BigInt(m[1]!) * 1000n + BigInt((m[2] ?? '').padEnd(3, '0') || '0');
      if (milli <= 0n) return bad('RATE must be above 0');
      if (milli > MAX_SIM_RATE_MILLI) return bad('RATE must be at most 1000000');
      return { ok: true, value: Object.freeze({ kind: 'sim', milliUnitsPerSecond: milli, text }) };
    }
    case 'file':
      if (arg.length === 0) return bad('PATH is empty');
      return { ok: true, value: Object.freeze({ kind: 'file', path: arg, text }) };
    case 'exec':
      if (arg.trim().length === 0) return bad('CMD is empty');
      return { ok: true, value: Object.freeze({ kind: 'exec', command: arg, text }) };
    case 'modbus-tcp':
    case 'modbus-rtu':
    case 'sdm630':
      return wrap(parseModbusSpec(kind, text), bad);
    case 'mqtt':
    case 'mqtts':
      return wrap(parseMqttMeterSpec(text), bad);
    case 'prometheus':
      return wrap(parsePrometheusSpec(text), bad);
    default:
      return bad(`unknown meter kind "${kind}"; expected ${METER_KINDS}`);
  }
}

function wrap(
  r: { ok: true; value: MeterSpec } | { ok: false; reason: string },
  bad: (why: string) => SpecResult,
): SpecResult {
  return r.ok ? r : bad(r.reason);
}
