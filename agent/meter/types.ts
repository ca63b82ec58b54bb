// A meter source reports a cumulative counter. Turning counter readings into units (and deciding
// what a decrease means) is the agent's job, in one place: meter/counter.ts.

export type MeterProblemCode = 'METER_UNREADABLE' | 'METER_BAD_READING';

export interface MeterSink {
  /** A cumulative counter value read from the meter: `value` whole units plus `nanos` billionths
   *  of a unit (0..999,999,999), for meters whose readings are fractional (decimal.ts). */
  reading(value: bigint, nanos?: bigint): void;
  /** The meter could not be read or printed something that is not a counter: no units change. */
  problem(code: MeterProblemCode, detail: string): void;
}

export interface MeterSource {
  /** The spec it was built from, for logs and status. */
  readonly description: string;
  /** For a fixed-width register (a Modbus uint16/uint32): the counter value, in billionths of a
   *  unit, at which it wraps back to 0. Lets the agent tell a rollover from a reset (counter.ts). */
  readonly wrapsAt?: bigint;
  /**
   * Starts reporting. resumeFrom is the last counter value the agent committed; synthetic sources
   * continue from it so a restart is not mistaken for a counter reset. Real meters ignore it.
   */
  start(sink: MeterSink, resumeFrom: bigint | undefined): void;
  /** Takes one reading now, if the source can (used before a final flush on shutdown). */
  pollNow(): Promise<void>;
  stop(): Promise<void>;
}
