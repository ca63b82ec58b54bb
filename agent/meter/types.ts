// A meter source reports a cumulative counter. Turning counter readings into units (and deciding
// what a decrease means) is the agent's job, in one place: meter/counter.ts.

export type MeterProblemCode = 'METER_UNREADABLE' | 'METER_BAD_READING';

export interface MeterSink {
  /** A cumulative counter value read from the meter. */
  reading(value: bigint): void;
  /** The meter could not be read or printed something that is not a counter: no units change. */
  problem(code: MeterProblemCode, detail: string): void;
}

export interface MeterSource {
  /** The spec it was built from, for logs and status. */
  readonly description: string;
  /**
   * Starts reporting. resumeFrom is the last counter value the agent committed; synthetic sources
   * continue from it so a restart is not mistaken for a counter reset. Real meters ignore it.
   */
  start(sink: MeterSink, resumeFrom: bigint | undefined): void;
  /** Takes one reading now, if the source can (used before a final flush on shutdown). */
  pollNow(): Promise<void>;
  stop(): Promise<void>;
}
