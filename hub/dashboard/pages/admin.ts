/// <reference lib="dom" />
// Admin: the token (kept in this tab only) and enrolment of a device. Without the token every
// action is refused by the hub (401 API_UNAUTHORIZED) and the page says so.

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { adminToken, postJson, setAdminToken } from '../api.js';
import { short } from '../format.js';
import { useAction } from './admin-action.js';

interface Enrolled {
  device: { publicKey: string };
  channel: { channelId: string };
}

export function AdminPage() {
  const [token, setToken] = useState(adminToken());
  const [saved, setSaved] = useState(adminToken() !== '');
  const [form, setForm] = useState({ publicKey: '', unit: 'Wh', pricePerUnit: '1', capacity: '1000000' });
  const [enrol, enrolResult] = useAction();
  const field = (name: keyof typeof form) => (e: Event) =>
    setForm({ ...form, [name]: (e.target as HTMLInputElement).value });
  return html`
    <h1>Admin</h1>
    <section class="panel">
      <h2>Admin token</h2>
      <p class="muted">
        Printed by <code>tally-hub init --json</code>, stored in <code>&lt;data&gt;/admin-token</code>. Kept in this
        browser tab only.
      </p>
      <form
        id="token-form"
        onSubmit=${(e: Event) => {
          e.preventDefault();
          setAdminToken(token.trim());
          setSaved(token.trim() !== '');
        }}
      >
        <input
          id="admin-token"
          type="password"
          autocomplete="off"
          value=${token}
          onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Use token</button>
        <button type="button" onClick=${() => (setAdminToken(''), setToken(''), setSaved(false))}>Forget</button>
        <span id="token-state" class=${saved ? 'success' : 'muted'}
          >${saved ? 'token set for this tab' : 'no token: read-only'}</span
        >
      </form>
    </section>
    <section class="panel">
      <h2>Enrol a device</h2>
      <form
        id="enrol-form"
        class="grid"
        onSubmit=${(e: Event) => {
          e.preventDefault();
          enrol(async () => {
            const r = await postJson<Enrolled>('/api/devices', {
              ...form,
              publicKey: form.publicKey.trim().toLowerCase(),
            });
            return `enrolled ${short(r.device.publicKey, 16)}, channel ${short(r.channel.channelId, 16)}`;
          });
        }}
      >
        <label
          >Public key (64 hex) <input id="enrol-key" value=${form.publicKey} onInput=${field('publicKey')}
        /></label>
        <label>Unit <input id="enrol-unit" value=${form.unit} onInput=${field('unit')} /></label>
        <label
          >Price per unit (minor units)
          <input id="enrol-price" value=${form.pricePerUnit} onInput=${field('pricePerUnit')}
        /></label>
        <label
          >Capacity (minor units) <input id="enrol-capacity" value=${form.capacity} onInput=${field('capacity')}
        /></label>
        <div><button type="submit">Enrol</button> ${enrolResult}</div>
      </form>
    </section>
  `;
}
