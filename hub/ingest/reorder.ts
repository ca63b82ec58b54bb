// The bounded reorder buffer [P-5.3]: a segment that arrives before the one it follows waits here
// (MQTT QoS 1 does not order messages across reconnects). Bounded per channel and hub-wide; a gap
// that does not fill within the window is given up and the device is asked to resync.

import type { LiveChannel, Registry, WaitingSegment } from '../model/registry.js';

export type BufferOutcome = 'waiting' | 'overflow';

export function bufferSegment(
  registry: Registry,
  ch: LiveChannel,
  w: WaitingSegment,
  limits: { perChannel: number; total: number },
): BufferOutcome {
  if (ch.waiting.length >= limits.perChannel || registry.waitingTotal >= limits.total) return 'overflow';
  // Kept sorted by first seq so the next ready one is found at the front.
  let i = ch.waiting.length;
  while (i > 0 && ch.waiting[i - 1]!.firstSeq > w.firstSeq) i--;
  ch.waiting.splice(i, 0, w);
  registry.waitingTotal++;
  registry.waitingChannels.add(ch);
  return 'waiting';
}

/** Removes and returns a waiting segment that now starts at or below head + 1. */
export function takeReady(registry: Registry, ch: LiveChannel): WaitingSegment | undefined {
  const first = ch.waiting[0];
  if (!first || first.firstSeq > ch.head.seq + 1n) return undefined;
  ch.waiting.shift();
  registry.waitingTotal--;
  if (ch.waiting.length === 0) registry.waitingChannels.delete(ch);
  return first;
}

/** Empties a channel's buffer (resync or overflow) and returns what it held. */
export function dropWaiting(registry: Registry, ch: LiveChannel): WaitingSegment[] {
  const dropped = ch.waiting;
  ch.waiting = [];
  registry.waitingTotal -= dropped.length;
  registry.waitingChannels.delete(ch);
  return dropped;
}

/** True when the oldest waiting segment has waited longer than the window. */
export function gapExpired(ch: LiveChannel, now: number, windowMs: number): boolean {
  let oldest = Infinity;
  for (const w of ch.waiting) oldest = Math.min(oldest, w.arrivedAt);
  return ch.waiting.length > 0 && now - oldest >= windowMs;
}
