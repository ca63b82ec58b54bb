// The lifecycle shared by the meters that poll (file:, exec:): read now, then every pollMs, never
// two reads at once (a slow SD card or a slow command must not reorder readings), and a stop that
// waits for the read in flight.
import type { Clock, Timer } from '../clock.js';
import type { MeterSink, MeterSource } from './types.js';

/** `read` reports through the sink it is given: a reading, or a problem. It must not throw. */
export function createPollingMeter(
  description: string,
  pollMs: number,
  clock: Clock,
  read: (sink: MeterSink | undefined) => Promise<void>,
): MeterSource {
  let timer: Timer | undefined;
  let sink: MeterSink | undefined;
  let busy: Promise<void> | undefined;
  const poll = (): Promise<void> =>
    (busy ??= read(sink).finally(() => {
      busy = undefined;
    }));
  return {
    description,
    start(s) {
      sink = s;
      void poll();
      timer = clock.every(pollMs, () => void poll());
    },
    pollNow: poll,
    async stop() {
      timer?.cancel();
      timer = undefined;
      await busy;
      sink = undefined;
    },
  };
}
