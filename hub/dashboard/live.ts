/// <reference lib="dom" />
// One live stream for the whole page (GET /api/live, server-sent events): every page reads the
// latest tick and the rate series from here, and re-renders when a tick arrives. No polling loop
// per page. Read with fetch, not EventSource: EventSource cannot send the bearer token that a hub
// beyond loopback wants, and a token in the URL would end up in logs and history.

import { useEffect, useState } from 'preact/hooks';
import { authHeaders, UNAUTHORIZED_EVENT } from './api.js';
import type { RatePoint, Tick } from './types.js';

const SERIES_SECONDS = 600;

export interface LiveState {
  connected: boolean;
  tick: Tick | undefined;
  series: RatePoint[];
  /** Increases on every tick: pages that fetch their own data refetch when it changes. */
  version: number;
}

let state: LiveState = { connected: false, tick: undefined, series: [], version: 0 };
const listeners = new Set<(s: LiveState) => void>();
let running = false;

function publish(next: Partial<LiveState>): void {
  state = { ...state, ...next };
  for (const l of listeners) l(state);
}

function onEvent(name: string, data: string): void {
  if (name === 'series') {
    const { series } = JSON.parse(data) as { series: RatePoint[] };
    publish({ series });
  } else if (name === 'tick') {
    const tick = JSON.parse(data) as Tick;
    const last = state.series[state.series.length - 1];
    const series =
      last && last.atMs >= tick.rate.atMs ? state.series : [...state.series, tick.rate].slice(-SERIES_SECONDS);
    publish({ connected: true, tick, series, version: state.version + 1 });
  }
}

/** Reads one stream until it ends, handing each event (`event:` and `data:` lines) to onEvent. */
async function readStream(): Promise<void> {
  const res = await fetch('/api/live', { headers: { accept: 'text/event-stream', ...authHeaders() } });
  if (res.status === 401) window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
  if (!res.ok || !res.body) return;
  publish({ connected: true });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) onEvent(name, data.join('\n'));
    }
  }
}

/** Keeps one stream open, reconnecting after a pause as EventSource would. */
function connect(): void {
  if (running) return;
  running = true;
  void (async () => {
    for (;;) {
      await readStream().catch(() => undefined);
      publish({ connected: false });
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
}

export function useLive(): LiveState {
  const [s, set] = useState(state);
  useEffect(() => {
    connect();
    listeners.add(set);
    set(state);
    return () => void listeners.delete(set);
  }, []);
  return s;
}
