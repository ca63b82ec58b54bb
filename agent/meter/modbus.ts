// Modbus meters: modbus-tcp://, modbus-rtu: and the sdm630: preset. Polled like file: and exec:
// (polling.ts); each poll reads one value (1 to 4 registers) with modbus-serial.
//
// modbus-serial is loaded only when a Modbus meter is configured, so the other meters pay nothing
// for it. It is plain JavaScript and goes into the bundle; the serial port it needs for RTU is the
// native `serialport` package, which stays outside the bundle and must be installed beside it
// (docs/agent.md, "Modbus RTU"). Modbus TCP needs nothing more.
import type * as ModbusSerial from 'modbus-serial';
import type { Clock } from '../clock.js';
import { NANO, toNanos, type Decimal } from './decimal.js';
import { parseChoice, parseScale, parseWhole, readParams, type Parsed } from './params.js';
import { createPollingMeter } from './polling.js';
import {
  decodeRegisters,
  REGISTER_TYPES,
  WORD_ORDERS,
  WORDS,
  wrapOf,
  type RegisterType,
  type WordOrder,
} from './registers.js';
import type { MeterSource } from './types.js';

// modbus-serial is CommonJS with `module.exports.default = module.exports`, so `.default.default`
// is its client class both to TypeScript (NodeNext) and at run time (Node or the bundle).
type ModbusRTU = InstanceType<typeof ModbusSerial.default.default>;

export type ModbusLink =
  | { readonly type: 'tcp'; readonly host: string; readonly port: number }
  | {
      readonly type: 'rtu';
      readonly path: string;
      readonly baudRate: number;
      readonly parity: 'none' | 'even' | 'odd';
      readonly stopBits: 1 | 2;
    };

export interface ModbusSpec {
  readonly kind: 'modbus';
  readonly link: ModbusLink;
  readonly unit: number;
  readonly register: number;
  /** 4: read input registers, 3: read holding registers. */
  readonly fc: 3 | 4;
  readonly type: RegisterType;
  readonly order: WordOrder;
  readonly scale: Decimal;
  readonly timeoutMs: number;
  readonly text: string;
}

/**
 * Eastron SDM630 (Modbus V2 and MID V2), from Eastron's "SDM630-Modbus" user manual, section
 * "Modbus Protocol Input Registers" (function code 04, each value a 4-byte IEEE 754 float sent
 * high word first): 30073 "Total import kWh", start address hex 00 48. Not 30343 (hex 01 56),
 * "Total kWh", which the manual defines as import plus export, so it would bill exported energy
 * too. Port defaults from the same manual's holding registers: 9600 baud, no parity, one stop
 * bit, Modbus address 1. Scale 1000: the register is kWh, channels count Wh.
 */
export const SDM630 = Object.freeze({ register: 0x0048, fc: 4, type: 'float32', order: 'ABCD', scale: '1000' });

const SERIAL = { baud: '9600', parity: 'none', stopbits: '1' };
const VALUE_KEYS = ['type', 'order', 'scale', 'fc', 'timeout'] as const;
const SERIAL_KEYS = ['baud', 'parity', 'stopbits'] as const;
const DEFAULT_TIMEOUT_MS = 1000;

/** kind is the text before the first colon: modbus-tcp, modbus-rtu or sdm630. */
export function parseModbusSpec(kind: string, text: string): Parsed<ModbusSpec> {
  const arg = text.slice(kind.length + 1);
  const tcp = arg.startsWith('//');
  if (kind === 'modbus-tcp' && !tcp) return { ok: false, reason: 'expected modbus-tcp://HOST[:PORT]/UNIT/REGISTER' };
  if (kind === 'modbus-rtu' && tcp) return { ok: false, reason: 'expected modbus-rtu:/dev/DEVICE?unit=N&register=R' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'not a valid URL' };
  }
  const preset = kind === 'sdm630';
  const keys = tcp
    ? [...VALUE_KEYS, ...(preset ? ['register', 'unit'] : [])]
    : [...VALUE_KEYS, ...SERIAL_KEYS, 'unit', 'register'];
  const params = readParams(url.search, keys);
  if (!params.ok) return params;
  const p = params.value;
  const get = (key: string, fallback?: string): string | undefined => p.get(key) ?? fallback;
  const d = preset ? SDM630 : undefined;

  let link: ModbusLink;
  let unitText: string | undefined;
  let registerText: string | undefined;
  if (tcp) {
    if (url.hostname === '') return { ok: false, reason: 'HOST is empty' };
    const port = parseWhole('PORT', url.port === '' ? '502' : url.port, 1, 65535);
    if (!port.ok) return port;
    link = { type: 'tcp', host: url.hostname.replace(/^\[|\]$/g, ''), port: port.value };
    const parts = url.pathname.split('/').filter((s) => s.length > 0);
    if (parts.length > (preset ? 1 : 2)) return { ok: false, reason: 'too many path parts' };
    unitText = parts[0] ?? get('unit', preset ? '1' : undefined);
    registerText = preset ? get('register', `${d!.register}`) : parts[1];
  } else {
    const path = decodeURIComponent(url.pathname);
    if (!path.startsWith('/'))
      return { ok: false, reason: 'the serial device must be an absolute path such as /dev/ttyUSB0' };
    const baud = parseWhole('baud', get('baud', SERIAL.baud), 300, 921_600);
    const parity = parseChoice('parity', get('parity', SERIAL.parity), ['none', 'even', 'odd'], 'none');
    const stop = parseChoice('stopbits', get('stopbits', SERIAL.stopbits), ['1', '2'], '1');
    for (const r of [baud, parity, stop]) if (!r.ok) return r;
    link = {
      type: 'rtu',
      path,
      baudRate: (baud as { value: number }).value,
      parity: (parity as { value: 'none' | 'even' | 'odd' }).value,
      stopBits: (stop as { value: '1' | '2' }).value === '2' ? 2 : 1,
    };
    unitText = get('unit', preset ? '1' : undefined);
    registerText = get('register', preset ? `${d!.register}` : undefined);
  }
  // Unit 0 is broadcast (no answer); 248-255 are reserved (Modbus over serial line V1.02, 2.2).
  const unit = parseWhole('UNIT', unitText, 1, 247);
  const register = parseWhole('REGISTER', registerText, 0, 65535);
  const fc = parseChoice('fc', get('fc', d ? `${d.fc}` : '4'), ['3', '4'], '4');
  const type = parseChoice('type', get('type', d?.type), REGISTER_TYPES, 'uint32');
  const order = parseChoice('order', get('order', d?.order), WORD_ORDERS, 'ABCD');
  const scale = parseScale(get('scale', d?.scale));
  const timeout = parseWhole('timeout', get('timeout', `${DEFAULT_TIMEOUT_MS}`), 50, 60_000);
  for (const r of [unit, register, fc, type, order, scale, timeout]) if (!r.ok) return r;
  const value = <T>(r: Parsed<T>): T => (r as { value: T }).value;
  if (value(register) + WORDS[value(type)] > 65536) return { ok: false, reason: 'REGISTER range runs past 65535' };
  return {
    ok: true,
    value: Object.freeze({
      kind: 'modbus',
      link: Object.freeze(link),
      unit: value(unit),
      register: value(register),
      fc: value(fc) === '3' ? 3 : 4,
      type: value(type),
      order: value(order),
      scale: value(scale),
      timeoutMs: value(timeout),
      text,
    }),
  };
}

export function createModbusMeter(
  spec: ModbusSpec,
  pollMs: number,
  clock: Clock,
  description = spec.text,
): MeterSource {
  let client: ModbusRTU | undefined;
  const where = spec.link.type === 'tcp' ? `${spec.link.host}:${spec.link.port}` : spec.link.path;
  const close = (): void => {
    const c = client;
    client = undefined;
    if (c?.isOpen) c.close(() => undefined);
  };
  const polling = createPollingMeter(description, pollMs, clock, async (sink) => {
    let bytes: Uint8Array;
    try {
      client ??= await connect(spec);
      const words = WORDS[spec.type];
      const r =
        spec.fc === 4
          ? await client.readInputRegisters(spec.register, words)
          : await client.readHoldingRegisters(spec.register, words);
      bytes = r.buffer;
    } catch (err) {
      // Drop the connection: the next poll opens a fresh one (a gateway restarted, a cable pulled).
      close();
      sink?.problem('METER_UNREADABLE', `${where} unit ${spec.unit}: ${explain(err)}`);
      return;
    }
    const decoded = decodeRegisters(bytes, spec.type, spec.order);
    const nanos = decoded.ok ? toNanos(decoded.value, spec.scale) : decoded;
    if (!nanos.ok) {
      sink?.problem('METER_BAD_READING', `${where} register ${spec.register}: ${nanos.reason}`);
      return;
    }
    sink?.reading(nanos.value / NANO, nanos.value % NANO);
  });
  const wrapsAt = wrapOf(spec.type, spec.scale);
  return {
    ...polling,
    ...(wrapsAt === undefined ? {} : { wrapsAt }),
    async stop() {
      await polling.stop();
      close();
    },
  };
}

async function connect(spec: ModbusSpec): Promise<ModbusRTU> {
  const ModbusClient = (await import('modbus-serial')).default.default;
  const c = new ModbusClient();
  const link = spec.link;
  try {
    if (link.type === 'tcp') await c.connectTCP(link.host, { port: link.port, timeout: spec.timeoutMs });
    else {
      await c.connectRTUBuffered(link.path, {
        baudRate: link.baudRate,
        parity: link.parity,
        stopBits: link.stopBits,
        dataBits: 8,
      });
    }
  } catch (err) {
    if (c.isOpen) c.close(() => undefined); // a half-open port must not hold the device
    throw err;
  }
  c.setID(spec.unit);
  c.setTimeout(spec.timeoutMs);
  return c;
}

function explain(err: unknown): string {
  const e = err as { message?: string; code?: string; modbusCode?: number };
  if (typeof e?.message === 'string' && /Cannot find (module|package) 'serialport'/.test(e.message)) {
    return 'Modbus RTU needs the serialport package beside tally-agent.js (npm install serialport@13)';
  }
  if (e?.modbusCode !== undefined) return `Modbus exception ${e.modbusCode}: ${e.message ?? ''}`;
  return e?.code ?? e?.message ?? String(err);
}
