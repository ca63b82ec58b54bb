// Builds the meter source a spec names.
import type { Readable } from 'node:stream';
import type { Clock } from '../clock.js';
import { createExecMeter } from './exec.js';
import { createFileMeter } from './file.js';
import { createModbusMeter } from './modbus.js';
import { createMqttMeter } from './mqtt-json.js';
import { createPrometheusMeter } from './prometheus.js';
import { createSimMeter } from './sim.js';
import type { MeterSpec } from './spec.js';
import { createStreamMeter } from './stream.js';
import type { MeterSource } from './types.js';

export interface MeterContext {
  readonly clock: Clock;
  readonly pollMs: number;
  /** The stream read by the stdin meter. */
  readonly stdin?: Readable;
}

export function createMeterSource(spec: MeterSpec, ctx: MeterContext): MeterSource {
  switch (spec.kind) {
    case 'sim':
      return createSimMeter(spec.milliUnitsPerSecond, ctx.clock, spec.text);
    case 'file':
      return createFileMeter(spec.path, ctx.pollMs, ctx.clock, spec.text);
    case 'exec':
      return createExecMeter(spec.command, ctx.pollMs, ctx.clock, spec.text);
    case 'stdin':
      if (ctx.stdin === undefined) throw new TypeError('the stdin meter needs an input stream');
      return createStreamMeter(ctx.stdin, spec.text);
    case 'modbus':
      return createModbusMeter(spec, ctx.pollMs, ctx.clock, spec.text);
    case 'mqtt':
      return createMqttMeter(spec, spec.text);
    case 'prometheus':
      return createPrometheusMeter(spec, ctx.pollMs, ctx.clock, spec.text);
  }
}

export type { MeterSink, MeterSource, MeterProblemCode } from './types.js';
export { parseMeterSpec, type MeterSpec } from './spec.js';
export { EMPTY_COUNTER, stepCounter, type CounterEvent, type CounterState, type CounterStep } from './counter.js';
