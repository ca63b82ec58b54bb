/// <reference lib="dom" />
// Fleet: devices online and offline, live rates, rejections by reason, and what needs attention.

import { html } from 'htm/preact';
import { useMemo } from 'preact/hooks';
import type uPlot from 'uplot';
import { Chart } from '../chart.js';
import { groupDigits, rate } from '../format.js';
import type { LiveState } from '../live.js';
import { Card, useFirstDataMark } from './common.js';

export function FleetPage(props: { live: LiveState }) {
  const { tick, series } = props.live;
  useFirstDataMark(tick !== undefined, 'tally-first-data');
  const data = useMemo<uPlot.AlignedData>(
    () => [series.map((p) => p.atMs / 1000), series.map((p) => p.unitsPerSec), series.map((p) => p.vouchersPerSec)],
    [series],
  );
  if (!tick) return html`<p class="loading">Waiting for the hub…</p>`;
  const s = tick.signals;
  const attention = s.attentionDevices + s.equivocatedChannels + s.waitingSegments > 0;
  return html`
    <h1>Fleet</h1>
    <section class="cards">
      <${Card} id="devices-total" label="devices" value=${groupDigits(String(tick.devices))} />
      <${Card} id="devices-online" label="online" value=${groupDigits(String(tick.online))} tone="ok" />
      <${Card}
        id="devices-offline"
        label="offline"
        value=${groupDigits(String(tick.offline))}
        tone=${tick.offline > 0 ? 'warn' : ''}
      />
      <${Card} id="devices-revoked" label="revoked" value=${groupDigits(String(tick.revoked))} />
      <${Card} id="units-rate" label="units/s" value=${rate(tick.rate.unitsPerSec)} />
      <${Card} id="vouchers-rate" label="vouchers/s" value=${rate(tick.rate.vouchersPerSec)} />
    </section>
    <section class="cards">
      <${Card} id="accepted-units" label="units accepted" value=${groupDigits(tick.stats.acceptedUnits)} />
      <${Card}
        id="accepted-amount"
        label="amount accepted (minor units)"
        value=${groupDigits(tick.stats.acceptedAmount)}
      />
      <${Card} id="settled-amount" label="amount settled" value=${groupDigits(tick.stats.settledAmount)} />
      <${Card} id="last-epoch" label="last epoch" value=${tick.stats.lastEpoch ?? '—'} />
    </section>
    <section class="panel">
      <${Chart}
        id="fleet-chart"
        title="Fleet rate, last 10 minutes"
        series=${[
          { label: 'units/s', color: '#2563eb' },
          { label: 'vouchers/s', color: '#16a34a' },
        ]}
        data=${data}
      />
    </section>
    <div class="columns">
      <section class="panel" id="signals">
        <h2>
          Needs attention
          ${attention ? html`<span class="pill bad">${s.attentionDevices} devices</span>` : html`<span class="pill ok">all clear</span>`}
        </h2>
        <table>
          <tr>
            <td>Devices needing a look</td>
            <td class="num"><a href="#/devices?status=attention">${s.attentionDevices}</a></td>
          </tr>
          <tr>
            <td>Resyncs sent (since start)</td>
            <td class="num">${s.resyncs}</td>
          </tr>
          <tr>
            <td>Gap and link rejections</td>
            <td class="num">${groupDigits(s.gapRejections)}</td>
          </tr>
          <tr>
            <td>Segments waiting for a gap</td>
            <td class="num">${s.waitingSegments}</td>
          </tr>
          <tr>
            <td>Equivocated channels</td>
            <td class=${`num ${s.equivocatedChannels > 0 ? 'bad' : ''}`}>${s.equivocatedChannels}</td>
          </tr>
          <tr>
            <td>Exhausted channels</td>
            <td class="num">${s.exhaustedChannels}</td>
          </tr>
        </table>
      </section>
      <section class="panel" id="rejections">
        <h2>Rejections by reason</h2>
        ${
          tick.rejections.length === 0
            ? html`<p class="muted">None.</p>`
            : html`<table>
                <tr>
                  <th>reason</th>
                  <th class="num">events</th>
                  <th class="num">vouchers</th>
                </tr>
                ${tick.rejections.map(
                  (r) =>
                    html`<tr title=${r.message}>
                      <td><code>${r.reason}</code></td>
                      <td class="num">${groupDigits(r.events)}</td>
                      <td class="num">${groupDigits(r.vouchers)}</td>
                    </tr>`,
                )}
              </table>`
        }
      </section>
    </div>
  `;
}
