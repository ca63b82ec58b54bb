/// <reference lib="dom" />
// One EventSource for the whole page (GET /api/live): every page reads the latest tick and the
// rate series from here, and re-renders when a tick arrives. No polling loop per page.

import { useEffect, useState } from 'preact/hooks';
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
let source: EventSource | undefined;

function publish(next: Partial<LiveState>): void {
  state = { ...state, ...next };
  for (const l of listeners) l(state);
}

function connect(): void {
  if (source) return;
  source = new EventSource('/api/live');
  source.addEventListener('open', () => publish({ connected: true }));
  source.addEventListener('error', () => publish({ connected: false }));
  source.addEventListener('series', (e) => {
    const { series } = JSON.parse((e as MessageEvent<string>).data) as { series: RatePoint[] };
    publish({ series });
  });
  source.addEventListener('tick', (e) => {
    const tick = JSON.parse((e as MessageEvent<string>).data) as Tick;
    const last = state.series[state.series.length - 1];
    const series =
      last && last.atMs >= tick.rate.atMs ? state.series : [...state.series, tick.rate].slice(-SERIES_SECONDS);
    publish({ connected: true, tick, series, version: state.version + 1 });
  });
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
