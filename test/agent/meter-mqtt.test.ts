// MQTT JSON meters against a real Mosquitto (user and password, as a Pi's local broker is set up),
// with messages shaped as Tasmota, Shelly Gen2 and Zigbee2MQTT publish them; then the whole agent
// on a Tasmota plug, including a meter that goes quiet (stale) and a Tasmota energy reset.
// Runs where a mosquitto binary is found; under CI=true a missing one fails instead of skipping.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NANO } from '../../agent/meter/decimal.js';
import { createMqttMeter, parseMqttMeterSpec, readMessage, type MqttMeterSpec } from '../../agent/meter/mqtt-json.js';
import { parseMeterSpec } from '../../agent/meter/spec.js';
import type { MeterSink } from '../../agent/meter/types.js';
import { readStatus } from '../../agent/status-report.js';
import { AgentFixture } from './helpers/agent-fixture.js';
import { findMosquitto, startPlainMosquitto, type PlainMosquitto } from './helpers/plain-mosquitto.js';
import { TestHub, waitFor } from '../../support/test-hub.js';

/** tele/<topic>/SENSOR of a Tasmota plug with an energy monitor (ENERGY.Total in kWh, 3 decimals). */
const tasmotaSensor = (total: string) =>
  `{"Time":"2024-03-01T12:00:00","ENERGY":{"TotalStartTime":"2023-11-05T10:21:33","Total":${total},` +
  `"Yesterday":0.456,"Today":0.123,"Period":2,"Power":45,"ApparentPower":52,"ReactivePower":26,` +
  `"Factor":0.87,"Voltage":231,"Current":0.225}}`;

/** <id>/status/switch:0 of a Shelly Plus Plug S with "Generic status update over MQTT" on
 *  (aenergy.total in Wh). */
const shellySwitch = (total: string) =>
  `{"id":0,"source":"init","output":true,"apower":45.2,"voltage":229.8,"freq":50.0,"current":0.232,` +
  `"aenergy":{"total":${total},"by_minute":[752.301,748.118,750.002],"minute_ts":1709294400},` +
  `"ret_aenergy":{"total":0.000,"by_minute":[0.000,0.000,0.000],"minute_ts":1709294400},` +
  `"temperature":{"tC":40.1,"tF":104.2}}`;

const spec = (text: string): MqttMeterSpec => {
  const r = parseMeterSpec(text);
  if (!r.ok || r.value.kind !== 'mqtt') throw new Error(r.ok ? 'not mqtt' : r.reason);
  return r.value;
};

function sink() {
  const readings: bigint[] = [];
  const problems: string[] = [];
  const s: MeterSink = {
    reading: (v, nanos = 0n) => readings.push(v * NANO + nanos),
    problem: (code, detail) => problems.push(`${code} ${detail}`),
  };
  return { s, readings, problems };
}

describe('mqtt meter specs and messages', () => {
  it('parses broker, credentials, topic, path and scale; masks the password', () => {
    const s = spec('mqtt://tally:s%40cret@10.0.0.2:1884/tele/tasmota_A1B2C3/SENSOR?path=ENERGY.Total&scale=1000');
    expect(s).toMatchObject({
      broker: 'mqtt://10.0.0.2:1884',
      topic: 'tele/tasmota_A1B2C3/SENSOR',
      path: ['ENERGY', 'Total'],
      scale: { coef: 1000n, exp: 0 },
      username: 'tally',
      password: 's@cret',
    });
    expect(s.text).not.toContain('cret');
    expect(s.text).toContain('tally:***@');
    expect(spec('mqtts://broker/shellyplusplugs-a8032ab12345/status/switch:0?path=aenergy.total')).toMatchObject({
      broker: 'mqtts://broker',
      topic: 'shellyplusplugs-a8032ab12345/status/switch:0',
      username: undefined,
    });
    for (const bad of [
      'mqtt://broker',
      'mqtt://broker/',
      'mqtt://broker/tele/+/SENSOR',
      'mqtt://broker/a?path=ENERGY..Total',
      'mqtt://broker/a?scale=x',
      'mqtt://broker/a?topic=b',
      'mqtt:///a',
    ]) {
      const r = parseMeterSpec(bad);
      expect(r.ok, bad).toBe(false);
    }
    expect(parseMqttMeterSpec('mqtt://broker/a%23b').ok).toBe(false); // an encoded # wildcard
  });

  it('reads numbers, exact strings, array indexes and bare payloads; refuses everything else', () => {
    const one = { coef: 1n, exp: 0 };
    const kwh = { coef: 1000n, exp: 0 };
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(readMessage(enc(tasmotaSensor('12.345')), ['ENERGY', 'Total'], kwh)).toEqual({
      ok: true,
      value: 12345n * NANO,
    });
    expect(readMessage(enc('{"e":"0.1000000000001"}'), ['e'], one)).toEqual({ ok: true, value: 100_000_000n });
    expect(readMessage(enc('{"a":[1,{"b":2.5}]}'), ['a', '1', 'b'], one)).toEqual({ ok: true, value: 2_500_000_000n });
    expect(readMessage(enc(' 42.5\n'), undefined, one)).toEqual({ ok: true, value: 42_500_000_000n });
    for (const [payload, path] of [
      ['not json', ['a']],
      ['{"a":null}', ['a']],
      ['{"a":true}', ['a']],
      ['{"a":{"b":1}}', ['a']],
      ['{"a":-1}', ['a']],
      ['{"a":"NaN"}', ['a']],
      ['{"b":1}', ['a']],
      ['{"__proto__":{"a":1}}', ['a']],
      ['[1,2]', ['5']],
      ['', undefined],
      ['x'.repeat(70_000), undefined],
    ] as const) {
      expect(readMessage(enc(payload), path as readonly string[] | undefined, one).ok, payload.slice(0, 20)).toBe(
        false,
      );
    }
  });
});

const bin = findMosquitto();
describe('mqtt meter against Mosquitto', () => {
  if (!bin) {
    if (process.env.CI) {
      it('needs a mosquitto binary in CI', () => {
        throw new Error('mosquitto not found: install it or set TALLY_MOSQUITTO_BIN');
      });
    } else {
      console.warn('test/agent/meter-mqtt.test.ts NOT RUN against Mosquitto: no mosquitto binary');
      it.skip('NOT RUN: no mosquitto binary found', () => {});
    }
    return;
  }
  let broker: PlainMosquitto;
  let plug: MqttClient;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    broker = await startPlainMosquitto(bin);
    plug = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      username: broker.user,
      password: broker.password,
      clientId: 'tasmota_A1B2C3',
    });
  });
  afterAll(async () => {
    await plug?.endAsync();
    await broker?.stop();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const publish = (topic: string, payload: string, retain = false) =>
    plug.publishAsync(topic, payload, { qos: 1, retain });
  const started = async (text: string) => {
    const meter = createMqttMeter(spec(text));
    const out = sink();
    meter.start(out.s, undefined);
    cleanups.push(() => meter.stop());
    return { meter, ...out };
  };
  /** The meter has subscribed once a message on its topic arrives. */
  const untilSubscribed = async (topic: string, payload: string, got: () => boolean) => {
    for (let i = 0; i < 200 && !got(); i++) {
      await publish(topic, payload);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('reads a Tasmota plug: ENERGY.Total kWh to exact Wh, other topics ignored', async () => {
    const topic = 'tele/tasmota_A1B2C3/SENSOR';
    const m = await started(`${broker.url}/${topic}?path=ENERGY.Total&scale=1000`);
    await untilSubscribed(topic, tasmotaSensor('12.345'), () => m.readings.length > 0);
    await publish('tele/tasmota_A1B2C3/STATE', '{"Time":"2024-03-01T12:00:00","POWER":"ON"}');
    await publish('tele/tasmota_D4E5F6/SENSOR', tasmotaSensor('999.999'));
    await publish(topic, tasmotaSensor('12.5'));
    await publish(topic, '{"Time":"2024-03-01T12:00:10"}'); // a SENSOR without ENERGY
    await waitFor(() => m.readings.includes(12500n * NANO) && m.problems.length > 0, 'second reading');
    expect(new Set(m.readings)).toEqual(new Set([12345n * NANO, 12500n * NANO]));
    expect(m.problems).toEqual([expect.stringMatching(/^METER_BAD_READING .*no "ENERGY.Total"/)]);
  });

  it('reads a Shelly Gen2 switch status (aenergy.total in Wh) and a retained Zigbee2MQTT message', async () => {
    const topic = 'shellyplusplugs-a8032ab12345/status/switch:0';
    const sh = await started(`${broker.url}/${topic}?path=aenergy.total`);
    await untilSubscribed(topic, shellySwitch('1234.567'), () => sh.readings.length > 0);
    expect(sh.readings[0]).toBe(1234_567_000_000n);
    await publish(
      'zigbee2mqtt/washer',
      '{"current":0.05,"energy":12.34,"linkquality":120,"power":3,"state":"ON"}',
      true,
    );
    const z = await started(`${broker.url}/zigbee2mqtt/washer?path=energy&scale=1000`);
    await waitFor(() => z.readings.length > 0, 'retained message on subscribe');
    expect(z.readings[0]).toBe(12340n * NANO);
    await publish('zigbee2mqtt/washer', '', true); // clear the retained message
  });

  it('reports a broker that refuses the credentials, with the password masked', async () => {
    const m = await started(`mqtt://tally:wrong-password@127.0.0.1:${broker.port}/a/b`);
    await waitFor(() => m.problems.length > 0, 'refusal reported');
    expect(m.problems[0]).toMatch(/^METER_UNREADABLE/);
    expect(m.problems.join('\n')).not.toContain('wrong-password');
    expect(m.readings).toEqual([]);
  });

  it('runs the agent on a Tasmota plug: exact Wh, a quiet meter reported stale, an energy reset', async () => {
    const hub = new TestHub();
    await hub.start();
    const dev = new AgentFixture();
    cleanups.push(
      () => hub.stop(),
      () => dev.cleanup(),
    );
    const topic = 'tele/tasmota_0A0B0C/SENSOR';
    const agent = dev.start(hub, {
      meter: createMqttMeter(spec(`${broker.url}/${topic}?path=ENERGY.Total&scale=1000`)),
      meterStaleMs: 400,
    });
    await waitFor(() => agent.snapshot().channel !== undefined, 'grant');
    const seen = (wh: bigint) => () => dev.store!.load().meter.baseline === wh;
    await untilSubscribed(topic, tasmotaSensor('3.000'), seen(3000n));
    await publish(topic, tasmotaSensor('3.0005')); // 0.5 Wh: carried, not signed
    await waitFor(() => dev.store!.load().meter.baselineNanos === 500_000_000n, 'fraction carried');
    await publish(topic, tasmotaSensor('3.101')); // 101 Wh in all
    await waitFor(() => hub.channelOf(dev.deviceHex)?.head.cumUnits === 101n, '101 Wh');
    // The plug goes quiet: stale after 400 ms, shown by status, and recovered on the next message.
    await waitFor(() => dev.codes().includes('METER_STALE'), 'stale reported');
    expect(agent.snapshot().meter.health).toBe('stale');
    expect(readStatus(dev.store!).meter.health?.state).toBe('stale');
    // "EnergyTotal 0" in the Tasmota console: the counter restarts from zero.
    await publish(topic, tasmotaSensor('0.000'));
    await waitFor(() => dev.codes().includes('METER_DECREASED'), 'reset reported');
    expect(dev.codes()).toContain('METER_RECOVERED');
    await publish(topic, tasmotaSensor('0.020'));
    await waitFor(() => hub.channelOf(dev.deviceHex)?.head.cumUnits === 121n, '20 Wh after the reset');
    await waitFor(() => agent.snapshot().outboxDepth === 0, 'drained');
    expect(hub.channelOf(dev.deviceHex)!.equivocations).toBe(0);
    expect(agent.counters.counterResets).toBe(1);
  });
});
