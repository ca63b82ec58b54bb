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
  const [form, setForm] = useState({
    publicKey: '',
    unit: 'Wh',
    currency: '',
    exponent: '',
    pricePerUnit: '1',
    capacity: '1000000',
  });
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
            const { currency, exponent, ...rest } = form;
            // Without a currency the amounts are bare minor units (a version-1 channel); with one,
            // an amount with a point is converted exactly at the exponent [P-3.1].
            const terms = currency.trim() === '' ? {} : { currency: currency.trim().toUpperCase() };
            const scale = exponent.trim() === '' ? {} : { exponent: exponent.trim() };
            const r = await postJson<Enrolled>('/api/devices', {
              ...rest,
              ...terms,
              ...scale,
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
          >Currency (ISO 4217, optional)
          <input id="enrol-currency" placeholder="EUR" value=${form.currency} onInput=${field('currency')}
        /></label>
        <label
          >Exponent (optional)
          <input id="enrol-exponent" placeholder="6" value=${form.exponent} onInput=${field('exponent')}
        /></label>
        <label
          >Price per unit (minor units, or 0.25 with a currency)
          <input id="enrol-price" value=${form.pricePerUnit} onInput=${field('pricePerUnit')}
        /></label>
        <label
          >Capacity (minor units, or 10.00 with a currency)
          <input id="enrol-capacity" value=${form.capacity} onInput=${field('capacity')}
        /></label>
        <div><button type="submit">Enrol</button> ${enrolResult}</div>
      </form>
    </section>
  `;
}
