// GET /api/live: server-sent events for the dashboard. One sample a second is taken by the HTTP
// server (Activity.sample) and the same tick is written to every open stream, so a hundred open
// pages cost one sample, not a hundred.

import type { ServerResponse } from 'node:http';
import type { Activity } from '../model/activity.js';
import type { HubCore } from '../core/hub-core.js';
import { rejectionCountView } from '../model/views.js';

const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/** What every tick carries: the activity snapshot, the fleet totals and rejections by reason. */
export function liveTick(core: HubCore, activity: Activity) {
  return {
    ...activity.snapshot,
    stats: core.stats(),
    rejections: core.ledger.rejectionCounts().map(rejectionCountView),
  };
}

/** Bytes of unsent ticks a stream may hold (about ten minutes of ticks). */
const MAX_BUFFERED = 1024 * 1024;

export class LiveStreams {
  private readonly clients = new Set<ServerResponse>();

  get size(): number {
    return this.clients.size;
  }

  /** Opens a stream: the rate series so far, then a tick a second until the client goes. */
  open(res: ServerResponse, core: HubCore, activity: Activity): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Proxies such as nginx would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    // EventSource reconnects by itself; a short retry keeps the page live across hub restarts.
    res.write(`retry: 2000\n\n`);
    res.write(`event: series\ndata: ${json({ series: activity.series })}\n\n`);
    res.write(`event: tick\ndata: ${json(liveTick(core, activity))}\n\n`);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  broadcast(tick: unknown): void {
    if (this.clients.size === 0) return;
    const message = `event: tick\ndata: ${json(tick)}\n\n`;
    for (const res of this.clients) {
      // A client that stopped reading would make the hub buffer ticks for it forever: drop it
      // (EventSource reconnects once it reads again).
      if (res.writableLength > MAX_BUFFERED) {
        this.clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(message);
    }
  }

  closeAll(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
