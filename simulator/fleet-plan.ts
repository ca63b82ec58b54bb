// How many processes the fleet runs in. A fleet process runs every device in it on one event loop
// (signing, SQLite outbox commits, receipt checks, MQTT), so a large slice makes that loop the
// bottleneck: every device in it waits behind the others, and sign -> receipt grows with the slice,
// not with the hub. And each device is a socket, so a slice must fit under the descriptor limit.
import type { NofileLimit } from '../common/nofile.js';

/** Devices per fleet process when the simulator chooses: the largest slice whose event loop kept
 *  its p99 lag in single-digit milliseconds on the 2-core development machine (docs/hub.md). */
export const DEVICES_PER_FLEET_PROCESS = 5_000;

export interface FleetPlan {
  workers: number;
  /** Why the count differs from what was asked; undefined when it does not. */
  reason: string | undefined;
}

export function planFleet(args: {
  devices: number;
  /** Fleet processes asked for; 0 = the fleet beside the hub in this process. */
  requested: number;
  /** The count was not given explicitly: spread large fleets over more processes. */
  auto: boolean;
  limit: NofileLimit | undefined;
  margin: number;
  /** An embedded hub shares this process's descriptors with an in-process fleet. */
  embeddedHub: boolean;
}): FleetPlan {
  const { devices, requested, limit, margin } = args;
  const room = limit === undefined || limit.soft === Infinity ? Infinity : Math.max(1, limit.soft - margin);
  if (requested === 0) {
    // In this process, beside the hub: a socket on each side of every connection.
    const needed = args.embeddedHub ? 2 * devices : devices;
    if (needed <= room) return { workers: 0, reason: undefined };
    return {
      workers: Math.max(1, Math.ceil(devices / room)),
      reason: `${needed} sockets in one process exceed its descriptor limit of ${limit!.soft}`,
    };
  }
  let workers = requested;
  const reasons: string[] = [];
  const forDescriptors = Math.ceil(devices / room);
  if (forDescriptors > workers) {
    workers = forDescriptors;
    reasons.push(`${Math.ceil(devices / requested)} sockets per process exceed the descriptor limit of ${limit!.soft}`);
  }
  const forLoop = Math.ceil(devices / DEVICES_PER_FLEET_PROCESS);
  if (args.auto && forLoop > workers) {
    workers = forLoop;
    reasons.length = 0;
    reasons.push(
      `at most ${DEVICES_PER_FLEET_PROCESS} devices per fleet process, so that no one event loop holds them all`,
    );
  }
  return { workers, reason: reasons.length > 0 ? reasons.join('; ') : undefined };
}
