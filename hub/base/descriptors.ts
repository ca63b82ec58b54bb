// Running out of file descriptors, said out loud. At the limit the kernel refuses accept() with
// EMFILE, and libuv hides it: it accepts and closes the waiting connections with a descriptor kept
// in reserve and tells Node nothing (uv__emfile_trick), or, without the reserve, hands the error
// to the listening server. Either way devices stay unconnected and nothing said why. So the hub
// probes once a second (one open and close of /dev/null: constant cost, whatever the fleet) and
// also takes the servers' own accept errors; each EMFILE or ENFILE seen is counted in /metrics and
// an error line names the limit, once when it starts and once a minute while it lasts.
import { closeSync, openSync } from 'node:fs';
import type { NofileLimit } from '../../common/nofile.js';
import type { HubLog } from './log-codes.js';
import type { HubMetrics } from './metrics.js';

const REPEAT_MS = 60_000;

export type DescriptorPlace = 'mqtt' | 'http' | 'probe';

const isExhaustion = (err: unknown): err is NodeJS.ErrnoException & { code: 'EMFILE' | 'ENFILE' } => {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
};

export class DescriptorWatch {
  #exhaustedSince: number | undefined;
  #lastLogAt = -Infinity;

  constructor(
    private readonly limit: NofileLimit | undefined,
    private readonly metrics: HubMetrics,
    private readonly log: HubLog,
    private readonly now: () => number = () => performance.now(),
    private readonly probe: () => void = () => closeSync(openSync('/dev/null', 'r')),
  ) {}

  /** The once-a-second check. */
  check(): void {
    try {
      this.probe();
    } catch (err) {
      if (this.error('probe', err)) return;
      throw err;
    }
    if (this.#exhaustedSince !== undefined) {
      const s = Math.round((this.now() - this.#exhaustedSince) / 1000);
      this.#exhaustedSince = undefined;
      this.metrics.descriptorsExhausted.set(0);
      this.log.event('HUB_DESCRIPTORS_AVAILABLE', {
        seconds: s,
        detail: `file descriptors available again after about ${s} s at the limit`,
      });
    }
  }

  /** An error from a server or the probe: true (counted and logged) if it is EMFILE or ENFILE. */
  error(where: DescriptorPlace, err: unknown): boolean {
    if (!isExhaustion(err)) return false;
    this.metrics.descriptorErrors.inc({ code: err.code, where });
    const now = this.now();
    this.#exhaustedSince ??= now;
    this.metrics.descriptorsExhausted.set(1);
    if (now - this.#lastLogAt >= REPEAT_MS) {
      this.#lastLogAt = now;
      this.log.event('HUB_OUT_OF_DESCRIPTORS', {
        errno: err.code,
        where,
        soft: this.limit?.soft ?? null,
        hard: this.limit?.hard ?? null,
        detail: this.#message(err.code, where),
      });
    }
    return true;
  }

  #message(code: 'EMFILE' | 'ENFILE', where: DescriptorPlace): string {
    const what =
      where === 'mqtt'
        ? 'accepting an MQTT connection'
        : where === 'http'
          ? 'accepting an HTTP connection'
          : 'at the check';
    if (code === 'ENFILE')
      return `out of file descriptors (ENFILE, ${what}): the whole system is at its limit (fs.file-max); new device connections are refused`;
    const l = this.limit;
    const limit = l === undefined ? 'an unknown limit' : `the limit of ${l.soft} (soft; hard ${l.hard})`;
    return (
      `out of file descriptors (EMFILE, ${what}): this process holds ${limit}; new device connections are refused ` +
      'until some close. Raise the hard limit: LimitNOFILE= in the systemd unit, or `ulimit -Hn` / `prlimit --nofile` as root'
    );
  }
}
