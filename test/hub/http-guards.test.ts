// The HTTP API's guards without sockets: the Host check against DNS rebinding, and the live
// streams' cap and backlog bound (a stream whose client stopped reading is dropped).
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { hostAllowed, hostOf } from '../../hub/http/host.js';
import { LiveStreams, MAX_BACKLOG } from '../../hub/http/live.js';
import type { Activity } from '../../hub/model/activity.js';
import type { HubCore } from '../../hub/core/hub-core.js';

describe('Host check', () => {
  it('reads the host of a Host header without port, brackets, case or trailing dot', () => {
    expect(hostOf('Hub.Example.NET.:8080')).toBe('hub.example.net');
    expect(hostOf('[::1]:8080')).toBe('::1');
    expect(hostOf('[::1]')).toBe('::1');
    expect(hostOf('127.0.0.1')).toBe('127.0.0.1');
  });

  it('answers IP addresses, localhost, the listen address and the configured names only', () => {
    const names = ['hub.example.net'];
    for (const h of [
      '127.0.0.1:8080',
      '[::1]:8080',
      '192.168.1.20',
      'localhost:8080',
      'hub.example.net',
      'tally-box:80',
    ])
      expect(hostAllowed(h, 'tally-box', names), h).toBe(true);
    for (const h of [
      'evil.example',
      'localhost.evil.example',
      'hub.example.net.evil',
      '127.0.0.1.nip.io',
      'tally-box2',
    ])
      expect(hostAllowed(h, 'tally-box', names), h).toBe(false);
    expect(hostAllowed(undefined, '127.0.0.1', [])).toBe(true);
  });
});

/** Enough of a ServerResponse for LiveStreams: what it wrote, and a backlog the test sets. */
function fakeResponse() {
  const res = {
    writableLength: 0,
    destroyed: false,
    written: [] as string[],
    writeHead: () => res,
    write(chunk: string | Buffer) {
      res.written.push(String(chunk));
      return true;
    },
    on: () => res,
    end: () => undefined,
    destroy() {
      res.destroyed = true;
    },
  };
  return res;
}

const core = {
  clustered: false,
  stats: async () => ({}),
  ledgerTotals: async () => ({}),
  ledger: { rejectionCounts: async () => [] },
} as unknown as HubCore;
const activity = { series: [], snapshot: {}, totals: () => ({}) } as unknown as Activity;

describe('LiveStreams', () => {
  it('is full at its cap', async () => {
    const live = new LiveStreams(2);
    await live.open(fakeResponse() as unknown as ServerResponse, core, activity);
    expect(live.full).toBe(false);
    await live.open(fakeResponse() as unknown as ServerResponse, core, activity);
    expect(live.full).toBe(true);
  });

  it('drops a stream whose backlog passed the bound, and keeps writing to the others', async () => {
    const live = new LiveStreams(10);
    const reading = fakeResponse();
    const stalled = fakeResponse();
    for (const r of [reading, stalled]) await live.open(r as unknown as ServerResponse, core, activity);
    live.broadcast({ n: 1 });
    stalled.writableLength = MAX_BACKLOG + 1;
    live.broadcast({ n: 2 });
    expect(stalled.destroyed).toBe(true);
    expect(reading.destroyed).toBe(false);
    expect(live.size).toBe(1);
    expect(reading.written.filter((w) => w.startsWith('event: tick'))).toHaveLength(3);
  });
});
