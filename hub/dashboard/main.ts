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
import { adminToken, setAdminToken, UNAUTHORIZED_EVENT } from './api.js';
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

/** Shown once the hub refused a read for want of a token: the hub listens beyond loopback. */
function TokenBar() {
  const [asked, setAsked] = useState(false);
  const [token, setToken] = useState('');
  useEffect(() => {
    const on = () => setAsked(true);
    window.addEventListener(UNAUTHORIZED_EVENT, on);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, on);
  }, []);
  if (!asked) return null;
  return html`
    <form
      id="login-form"
      class="panel"
      onSubmit=${(e: Event) => {
        e.preventDefault();
        setAdminToken(token.trim());
        location.reload();
      }}
    >
      <strong>This hub wants a token for reads.</strong>
      <span class="muted"> The read token (--read-token-file) or the admin token; kept in this tab only.</span>
      <input
        id="login-token"
        type="password"
        autocomplete="off"
        value=${token}
        onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)}
      />
      <button type="submit">Use token</button>
    </form>
  `;
}

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
      <span class="token">${adminToken() ? 'token set' : 'no token'}</span>
    </header>
    <main><${TokenBar} />${page}</main>
  `;
}

const root = document.getElementById('app')!;
// render() adds to what the element holds: drop the static "Loading…" first.
root.textContent = '';
render(html`<${App} />`, root);
