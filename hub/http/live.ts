// GET /api/live: server-sent events for the dashboard. One sample a second is taken by the HTTP
// server (Activity.sample) and the same tick is written to every open stream, so a hundred open
// pages cost one sample, not a hundred.

import type { ServerResponse } from 'node:http';
import type { Activity } from '../model/activity.js';
import type { HubCore } from '../core/hub-core.js';
import { rejectionCountView } from '../model/views.js';

const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/** What every tick carries: the activity snapshot, the fleet totals and rejections by reason.
 *  A single hub's totals come from the sample (kept from the changes); a cluster hub's from the
 *  whole fleet in the database, as GET /api/stats gives them. */
export async function liveTick(core: HubCore, activity: Activity) {
  return {
    ...activity.snapshot,
    stats: core.clustered ? await core.stats() : { ...activity.totals(), ...(await core.ledgerTotals()) },
    rejections: (await core.ledger.rejectionCounts()).map(rejectionCountView),
  };
}

/** Bytes a stream may have waiting in the hub beyond what the kernel took: a few ticks. The kernel's
 *  socket buffers (a few hundred KiB on Linux) fill first, so a client that stops reading is
 *  dropped once those and this are full, after a few minutes of ticks. */
export const MAX_BACKLOG = 64 * 1024;

export class LiveStreams {
  private readonly clients = new Set<ServerResponse>();

  /** `maxStreams`: open at once; every stream costs the hub its socket buffers. */
  constructor(
    private readonly maxStreams: number,
    private readonly maxBacklog = MAX_BACKLOG,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  get full(): boolean {
    return this.clients.size >= this.maxStreams;
  }

  /** Opens a stream: the rate series so far, then a tick a second until the client goes. The
   *  caller checks `full` first. */
  async open(res: ServerResponse, core: HubCore, activity: Activity): Promise<void> {
    const tick = await liveTick(core, activity);
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
    res.write(`event: tick\ndata: ${json(tick)}\n\n`);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  broadcast(tick: unknown): void {
    if (this.clients.size === 0) return;
    // Encoded once for every stream.
    const message = Buffer.from(`event: tick\ndata: ${json(tick)}\n\n`);
    for (const res of this.clients) {
      // A client that stopped reading would make the hub buffer ticks for it forever: drop it
      // (EventSource reconnects once it reads again).
      if (res.writableLength > this.maxBacklog) {
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
