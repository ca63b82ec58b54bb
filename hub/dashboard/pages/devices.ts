/// <reference lib="dom" />
// Devices: searched and paged on the hub (GET /api/fleet), 50 rows at a time, refreshed on each
// live tick. The page never holds the whole fleet, so it stays fast with 10,000 devices.

import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { describeError, getJson } from '../api.js';
import { ago, groupDigits, short } from '../format.js';
import type { LiveState } from '../live.js';
import type { FleetPage, Route } from '../types.js';
import { CapacityBar, useFirstDataMark } from './common.js';

const PAGE = 50;

function link(q: string, status: string, page: number, sort = 'enrolled'): string {
  const p = new URLSearchParams();
  if (q) p.set('q', q);
  if (status !== 'all') p.set('status', status);
  if (sort !== 'enrolled') p.set('sort', sort);
  if (page > 0) p.set('page', String(page));
  const s = p.toString();
  return `#/devices${s ? `?${s}` : ''}`;
}

export function DevicesPage(props: { route: Route; live: LiveState }) {
  const q = props.route.query.get('q') ?? '';
  const status = props.route.query.get('status') ?? 'all';
  const sort = props.route.query.get('sort') ?? 'enrolled';
  const page = Number(props.route.query.get('page') ?? '0') || 0;
  const [data, setData] = useState<FleetPage | undefined>();
  const [error, setError] = useState('');
  const [typed, setTyped] = useState(q);
  useFirstDataMark(data !== undefined, 'tally-first-devices');

  useEffect(() => {
    const params = new URLSearchParams({ q, status, sort, offset: String(page * PAGE), limit: String(PAGE) });
    let cancelled = false;
    getJson<FleetPage>(`/api/fleet?${params}`).then(
      (d) => !cancelled && (setData(d), setError('')),
      (e: unknown) => !cancelled && setError(describeError(e)),
    );
    return () => void (cancelled = true);
  }, [q, status, sort, page, props.live.version]);

  const search = (e: Event) => {
    e.preventDefault();
    location.hash = link(typed.trim().toLowerCase(), status, 0, sort);
  };
  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE)) : 1;
  return html`
    <h1>Devices</h1>
    <form class="toolbar" onSubmit=${search}>
      <input
        id="device-search"
        placeholder="device key or channel id (hex)"
        value=${typed}
        onInput=${(e: Event) => setTyped((e.target as HTMLInputElement).value)}
      />
      <button type="submit">Search</button>
      <select
        id="device-status"
        value=${status}
        onChange=${(e: Event) => (location.hash = link(q, (e.target as HTMLSelectElement).value, 0, sort))}
      >
        ${['all', 'online', 'offline', 'revoked', 'attention'].map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
      <select
        id="device-sort"
        value=${sort}
        onChange=${(e: Event) => (location.hash = link(q, status, 0, (e.target as HTMLSelectElement).value))}
      >
        <option value="enrolled">enrolment order</option>
        <option value="seen">last seen first</option>
        <option value="key">by key</option>
      </select>
      <span id="device-total" class="muted"
        >${data ? `${groupDigits(String(data.total))} device${data.total === 1 ? '' : 's'}` : ''}</span
      >
    </form>
    ${error && html`<p class="error">${error}</p>`}
    <table id="device-table" class="list">
      <tr>
        <th>device</th>
        <th>status</th>
        <th>last seen</th>
        <th>channel</th>
        <th>state</th>
        <th class="num">head seq</th>
        <th class="num">units</th>
        <th>capacity</th>
        <th>attention</th>
      </tr>
      ${(data?.devices ?? []).map(
        (d) =>
          html`<tr class="device-row" data-key=${d.publicKey}>
            <td>
              <a href=${d.channel ? `#/channel/${d.channel.channelId}` : '#/devices'}
                ><code>${short(d.publicKey, 16)}</code></a
              >
            </td>
            <td>
              ${d.revoked ? html`<span class="pill">revoked</span>` : d.connected ? html`<span class="pill ok">online</span>` : html`<span class="pill warn">offline</span>`}
            </td>
            <td>${ago(d.lastSeenMs)}</td>
            <td><code>${d.channel ? short(d.channel.channelId, 10) : '—'}</code></td>
            <td>${d.channel?.state ?? '—'}</td>
            <td class="num">${d.channel ? groupDigits(d.channel.headSeq) : '—'}</td>
            <td class="num">${d.channel ? `${groupDigits(d.channel.cumUnits)} ${d.channel.unit}` : '—'}</td>
            <td>
              ${d.channel ? html`<${CapacityBar} used=${d.channel.cumAmount} capacity=${d.channel.capacity} compact />` : null}
            </td>
            <td>${d.attention.map((a) => html`<span class="pill bad">${a}</span>`)}</td>
          </tr>`,
      )}
    </table>
    <nav class="pager">
      ${page > 0 ? html`<a href=${link(q, status, page - 1, sort)}>‹ previous</a>` : html`<span></span>`}
      <span id="device-page">page ${page + 1} of ${pages}</span>
      ${page + 1 < pages ? html`<a id="next-page" href=${link(q, status, page + 1, sort)}>next ›</a>` : html`<span></span>`}
    </nav>
  `;
}
