/// <reference lib="dom" />
// The webhook outbox on the Settlements page: how many deliveries wait, how many are dead letters,
// and the dead letters themselves with a button that sends one again (admin). docs/webhooks.md.

import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { describeError, getJson, postJson } from '../api.js';
import { when } from '../format.js';
import { useAction } from './admin-action.js';

interface Delivery {
  id: string;
  eventId: string;
  type: string;
  subscriptionId: string;
  attempts: number;
  lastError: string | null;
  lastAttemptAt: string | null;
}

interface Deliveries {
  counts: { pending: number; delivered: number; dead: number };
  deliveries: Delivery[];
}

export function WebhooksPanel(props: { refresh: unknown }) {
  const [data, setData] = useState<Deliveries | undefined>();
  const [error, setError] = useState('');
  const [reload, setReload] = useState(0);
  const [retry, retryResult] = useAction();
  useEffect(() => {
    getJson<Deliveries>('/api/webhooks/deliveries?state=dead&limit=50').then(
      (r) => (setData(r), setError('')),
      (e: unknown) => setError(describeError(e)),
    );
  }, [props.refresh, reload]);
  return html`
    <h2>Webhooks</h2>
    ${error && html`<p class="error">${error}</p>`}
    ${
      data &&
      html`<p id="webhook-counts">
        outbox: <strong>${data.counts.pending}</strong> pending, ${data.counts.delivered} delivered,
        <strong class=${data.counts.dead > 0 ? 'error' : ''}>${data.counts.dead}</strong> dead letter(s)
      </p>`
    }
    <div id="webhook-action">${retryResult}</div>
    ${
      data && data.deliveries.length > 0
        ? html`<table id="dead-letters" class="list">
            <tr>
              <th>delivery</th>
              <th>event</th>
              <th>subscription</th>
              <th class="num">attempts</th>
              <th>last attempt</th>
              <th>last error</th>
              <th></th>
            </tr>
            ${data.deliveries.map(
              (d) =>
                html`<tr class="dead-letter" data-delivery=${d.id}>
                  <td>${d.id}</td>
                  <td><code title=${d.eventId}>${d.type}</code></td>
                  <td>${d.subscriptionId}</td>
                  <td class="num">${d.attempts}</td>
                  <td>${d.lastAttemptAt ? when(Date.parse(d.lastAttemptAt)) : '-'}</td>
                  <td>${d.lastError ?? '-'}</td>
                  <td>
                    <button
                      class="retry"
                      onClick=${() =>
                        retry(async () => {
                          await postJson(`/api/webhooks/deliveries/${d.id}/retry`);
                          setReload((n) => n + 1);
                          return `delivery ${d.id} queued again`;
                        })}
                    >
                      Send again
                    </button>
                  </td>
                </tr>`,
            )}
          </table>`
        : null
    }
  `;
}
