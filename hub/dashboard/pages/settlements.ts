/// <reference lib="dom" />
// Settlements: every epoch with its totals, its bundle and CSV to download, and the result of
// verifying the bundle (the hub runs the same offline check as `tally-hub verify`).

import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { describeError, downloadWithToken, getJson, postJson } from '../api.js';
import { groupDigits, short, when } from '../format.js';
import type { LiveState } from '../live.js';
import type { Epoch, Verdict } from '../types.js';
import { useAction } from './admin-action.js';
import { useFirstDataMark } from './common.js';
import { WebhooksPanel } from './webhooks-panel.js';

function VerifyCell(props: { epoch: string }) {
  const [verdict, setVerdict] = useState<Verdict | string | undefined>();
  const verify = () => {
    setVerdict('checking…');
    getJson<Verdict>(`/api/settlements/${props.epoch}/verify`).then(setVerdict, (e: unknown) =>
      setVerdict(describeError(e)),
    );
  };
  if (verdict === undefined) return html`<button class="verify" onClick=${verify}>Verify</button>`;
  if (typeof verdict === 'string') return html`<span class="muted">${verdict}</span>`;
  return verdict.ok
    ? html`<span class="success verdict" title=${`root ${verdict.root}`}
        >✓ verified: ${verdict.entryCount} entries, ${groupDigits(verdict.totalDeltaAmount ?? '0')}</span
      >`
    : html`<span class="error verdict">✗ ${verdict.reasons.map((r) => `${r.code} ${r.detail}`).join('; ')}</span>`;
}

export function SettlementsPage(props: { live: LiveState }) {
  const [epochs, setEpochs] = useState<Epoch[] | undefined>();
  const [error, setError] = useState('');
  const [settle, settleResult] = useAction();
  const lastEpoch = props.live.tick?.stats.lastEpoch ?? null;
  const [reload, setReload] = useState(0);
  useFirstDataMark(epochs !== undefined, 'tally-first-settlements');
  useEffect(() => {
    getJson<{ epochs: Epoch[] }>('/api/settlements').then(
      (r) => (setEpochs(r.epochs.slice().reverse()), setError('')),
      (e: unknown) => setError(describeError(e)),
    );
  }, [lastEpoch, reload]);
  return html`
    <h1>Settlements</h1>
    <section class="panel admin">
      <button
        id="settle-now"
        onClick=${() =>
          settle(async () => {
            const e = await postJson<Epoch>('/api/settlements');
            setReload((n) => n + 1);
            return `epoch ${e.epoch} closed: ${e.entryCount} channel(s), ${groupDigits(e.totalDeltaAmount)} minor units`;
          })}
      >
        Settle now
      </button>
      ${settleResult}
    </section>
    ${error && html`<p class="error">${error}</p>`}
    ${epochs && epochs.length === 0 ? html`<p class="muted">No epoch closed yet.</p>` : null}
    <table id="epoch-table" class="list">
      <tr>
        <th>epoch</th>
        <th>closed</th>
        <th class="num">channels</th>
        <th class="num">total delta (minor units)</th>
        <th>root</th>
        <th>download</th>
        <th>verification</th>
      </tr>
      ${(epochs ?? []).map(
        (e) =>
          html`<tr class="epoch-row" data-epoch=${e.epoch}>
            <td>${e.epoch}</td>
            <td>${when(e.closedAtMs)}</td>
            <td class="num">${groupDigits(String(e.entryCount))}</td>
            <td class="num">${groupDigits(e.totalDeltaAmount)}</td>
            <td><code title=${e.root}>${short(e.root, 16)}</code></td>
            <td>
              <a
                class="bundle-link"
                href=${`/api/settlements/${e.epoch}/bundle`}
                download=${`tally-epoch-${e.epoch}.json`}
                onClick=${downloadWithToken}
                >bundle</a
              >
              ·
              <a
                class="csv-link"
                href=${`/api/settlements/${e.epoch}/csv`}
                download=${`tally-epoch-${e.epoch}.csv`}
                onClick=${downloadWithToken}
                >CSV</a
              >
            </td>
            <td><${VerifyCell} epoch=${e.epoch} /></td>
          </tr>`,
      )}
    </table>
    <${WebhooksPanel} refresh=${Math.floor(props.live.version / 5)} />
  `;
}
