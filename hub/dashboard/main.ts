/// <reference lib="dom" />
// The operator dashboard: a hash router over five pages, one live stream for all of them.
// Pages: #/ fleet, #/devices, #/channel/<id>, #/settlements, #/verify, #/admin.

import { html, render } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { useLive } from './live.js';
import { AdminPage } from './pages/admin.js';
import { ChannelPage } from './pages/channel.js';
import { DevicesPage } from './pages/devices.js';
import { FleetPage } from './pages/fleet.js';
import { SettlementsPage } from './pages/settlements.js';
import { VerifyPage } from './pages/verify.js';
import { adminToken } from './api.js';
import type { Route } from './types.js';
import 'uplot/dist/uPlot.min.css';
import './style.css';

function parseHash(): Route {
  const [path = '', query = ''] = location.hash.replace(/^#/, '').split('?');
  const [, page = '', arg = ''] = path.split('/');
  return { page, arg: decodeURIComponent(arg), query: new URLSearchParams(query) };
}

function useRoute(): Route {
  const [route, set] = useState(parseHash());
  useEffect(() => {
    const on = () => set(parseHash());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

const NAV = [
  ['', 'Fleet'],
  ['devices', 'Devices'],
  ['settlements', 'Settlements'],
  ['verify', 'Verify'],
  ['admin', 'Admin'],
] as const;

function App() {
  const route = useRoute();
  const live = useLive();
  const page =
    route.page === 'devices'
      ? html`<${DevicesPage} route=${route} live=${live} />`
      : route.page === 'channel'
        ? html`<${ChannelPage} id=${route.arg} live=${live} />`
        : route.page === 'settlements'
          ? html`<${SettlementsPage} live=${live} />`
          : route.page === 'verify'
            ? html`<${VerifyPage} />`
            : route.page === 'admin'
              ? html`<${AdminPage} />`
              : html`<${FleetPage} live=${live} />`;
  return html`
    <header>
      <strong class="brand">Tally hub</strong>
      <nav>
        ${NAV.map(([p, label]) => html`<a href=${`#/${p}`} class=${route.page === p || (p === 'devices' && route.page === 'channel') ? 'active' : ''}>${label}</a>`)}
      </nav>
      <span id="live-status" class=${live.connected ? 'ok' : 'bad'}
        >${live.connected ? '● live' : '○ reconnecting'}</span
      >
      <span class="token">${adminToken() ? 'admin token set' : 'read-only'}</span>
    </header>
    <main>${page}</main>
  `;
}

const root = document.getElementById('app')!;
// render() adds to what the element holds: drop the static "Loading…" first.
root.textContent = '';
render(html`<${App} />`, root);
