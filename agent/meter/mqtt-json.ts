// mqtt://[USER:PASS@]HOST[:PORT]/TOPIC?path=A.B&scale=S: a meter that publishes its counter over
// MQTT, as Tasmota (tele/<topic>/SENSOR, ENERGY.Total in kWh), Shelly Gen2 (<id>/status/switch:0,
// aenergy.total in Wh) and Zigbee2MQTT (zigbee2mqtt/<name>, energy in kWh) do. Each message on
// TOPIC is one reading: the JSON value at `path`, or without a path the payload itself as a
// decimal number. A JSON string value is parsed exactly; a JSON number is read as decimal.ts says.
// This is a separate connection from the hub's link: the meter usually publishes to a broker on
// the device's own network.
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { float64ToDecimal, NANO, parseDecimal, toNanos, type Decimal } from './decimal.js';
import { parseScale, readParams, type Parsed } from './params.js';
import type { MeterSink, MeterSource } from './types.js';

export interface MqttMeterSpec {
  readonly kind: 'mqtt';
  /** Broker URL without credentials, path or options. */
  readonly broker: string;
  readonly topic: string;
  /** Keys from the JSON root to the counter; undefined when the payload is the number itself. */
  readonly path: readonly string[] | undefined;
  readonly scale: Decimal;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** The spec with its password masked: it is logged and shown in status. */
  readonly text: string;
}

/** Larger messages are refused unread: a SENSOR message is a few hundred bytes. */
const MAX_PAYLOAD_BYTES = 64 * 1024;
const RECONNECT_MS = 5000;

export function parseMqttMeterSpec(text: string): Parsed<MqttMeterSpec> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'not a valid URL' };
  }
  if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:')
    return { ok: false, reason: 'expected mqtt:// or mqtts://' };
  if (url.hostname === '') return { ok: false, reason: 'BROKER is empty' };
  const topic = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (topic.length === 0) return { ok: false, reason: 'TOPIC is empty: mqtt://BROKER/TOPIC' };
  // A wildcard would merge several meters into one counter [MQTT-4.7.1].
  if (/[+#]/.test(topic) || topic.includes('\0'))
    return { ok: false, reason: 'TOPIC must name one meter: no + or # wildcards' };
  const params = readParams(url.search, ['path', 'scale']);
  if (!params.ok) return params;
  const pathText = params.value.get('path');
  const path = pathText === undefined ? undefined : pathText.split('.');
  if (path !== undefined && path.some((k) => k.length === 0)) {
    return { ok: false, reason: `path must be keys joined by dots, such as ENERGY.Total, got "${pathText}"` };
  }
  const scale = parseScale(params.value.get('scale'));
  if (!scale.ok) return scale;
  const username = url.username === '' ? undefined : decodeURIComponent(url.username);
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  const broker = `${url.protocol}//${url.host}`;
  const shown = new URL(text);
  if (shown.password !== '') shown.password = '***';
  return {
    ok: true,
    value: Object.freeze({
      kind: 'mqtt',
      broker,
      topic,
      path,
      scale: scale.value,
      username,
      password,
      text: shown.href,
    }),
  };
}

/** The counter in one message, in nano-units. */
export function readMessage(payload: Uint8Array, path: readonly string[] | undefined, scale: Decimal): Parsed<bigint> {
  if (payload.length > MAX_PAYLOAD_BYTES)
    return { ok: false, reason: `message larger than ${MAX_PAYLOAD_BYTES} bytes` };
  const text = Buffer.from(payload).toString('utf8');
  let value: unknown = text;
  if (path !== undefined) {
    try {
      value = JSON.parse(text);
    } catch {
      return { ok: false, reason: 'message is not JSON' };
    }
    for (const key of path) {
      const here: unknown = value;
      value =
        Array.isArray(here) && /^\d+$/.test(key)
          ? here[Number(key)]
          : here !== null && typeof here === 'object' && Object.hasOwn(here, key)
            ? (here as Record<string, unknown>)[key]
            : undefined;
      if (value === undefined) return { ok: false, reason: `no "${path.join('.')}" in the message` };
    }
  }
  let d: Parsed<Decimal>;
  if (typeof value === 'string') d = parseDecimal(value);
  else if (typeof value === 'number' && Number.isFinite(value)) d = { ok: true, value: float64ToDecimal(value) };
  else
    d = {
      ok: false,
      reason: `"${path?.join('.') ?? 'payload'}" is ${value === null ? 'null' : typeof value}, not a number`,
    };
  return d.ok ? toNanos(d.value, scale) : d;
}

export function createMqttMeter(spec: MqttMeterSpec, description = spec.text): MeterSource {
  let client: MqttClient | undefined;
  let sink: MeterSink | undefined;
  return {
    description,
    start(s) {
      sink = s;
      const c = mqtt.connect(spec.broker, {
        clientId: `tally-meter-${randomBytes(6).toString('hex')}`,
        clean: true,
        reconnectPeriod: RECONNECT_MS,
        connectTimeout: 10_000,
        ...(spec.username === undefined ? {} : { username: spec.username }),
        ...(spec.password === undefined ? {} : { password: spec.password }),
      });
      client = c;
      c.on('connect', () => {
        c.subscribe(spec.topic, { qos: 0 }, (err) => {
          if (err) sink?.problem('METER_UNREADABLE', `${spec.broker} ${spec.topic}: subscribe failed: ${err.message}`);
        });
      });
      c.on('error', (err) => sink?.problem('METER_UNREADABLE', `${spec.broker}: ${err.message}`));
      c.on('offline', () => sink?.problem('METER_UNREADABLE', `${spec.broker}: not connected; retrying`));
      c.on('message', (topic, payload) => {
        if (topic !== spec.topic) return;
        const r = readMessage(payload, spec.path, spec.scale);
        if (r.ok) sink?.reading(r.value / NANO, r.value % NANO);
        else sink?.problem('METER_BAD_READING', `${spec.topic}: ${r.reason}`);
      });
    },
    // A pushed meter has nothing to poll: its latest message was already read.
    pollNow: async () => undefined,
    async stop() {
      sink = undefined;
      const c = client;
      client = undefined;
      await c?.endAsync(true).catch(() => undefined);
    },
  };
}
