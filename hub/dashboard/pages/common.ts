/// <reference lib="dom" />
// Small pieces shared by the pages.

import { html } from 'htm/preact';
import { useEffect } from 'preact/hooks';
import { percent } from '../format.js';

export function Card(props: { label: string; value: string | number; id?: string; tone?: string }) {
  return html`<div class=${`card ${props.tone ?? ''}`} id=${props.id}>
    <div class="value">${props.value}</div>
    <div class="label">${props.label}</div>
  </div>`;
}

export function CapacityBar(props: { used: string; capacity: string; compact?: boolean }) {
  const p = percent(props.used, props.capacity);
  const tone = p >= 90 ? 'bad' : p >= 70 ? 'warn' : 'ok';
  return html`<div class=${`bar ${props.compact ? 'compact' : ''}`} title=${`${p}% of capacity used`}>
    <div class=${`fill ${tone}`} style=${`width:${Math.min(100, p)}%`}></div>
    ${props.compact ? null : html`<span class="bar-label">${p}% used</span>`}
  </div>`;
}

/**
 * Marks the first render that shows data (performance.mark), once per page load: what the
 * benchmark reads as "time to first render".
 */
export function useFirstDataMark(ready: boolean, name: string): void {
  useEffect(() => {
    if (ready && performance.getEntriesByName(name).length === 0) performance.mark(name);
  }, [ready]);
}
