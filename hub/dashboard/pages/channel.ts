/// <reference lib="dom" />
// One device and its current channel: capacity used, head, last receipt, usage over time, recent
// rejections and settlements; top-up and revoke for the operator.

import { formatMoney } from '../../../protocol/money.js';
import { html } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { describeError, downloadWithToken, getJson, postJson } from '../api.js';
import { Chart } from '../chart.js';
import { ago, groupDigits, short, when } from '../format.js';
import type { LiveState } from '../live.js';
import type { Channel, ChannelHistory, Rejection } from '../types.js';
import { useAction } from './admin-action.js';
import { CapacityBar, useFirstDataMark } from './common.js';

/**
 * The usage curve, and the rate over a trailing window (units per minute). Consecutive segments
 * can be received milliseconds apart, so a point-to-point rate would spike; the window is a 30th
 * of the span shown, at least a second.
 */
function usageData(h: ChannelHistory | undefined): uPlot.AlignedData {
  const pts = h?.usage ?? [];
  const ms = pts.map((p) => Number(p.atMs));
  const cum = pts.map((p) => Number(p.cumUnits));
  const windowMs = Math.max(1000, ((ms[ms.length - 1] ?? 0) - (ms[0] ?? 0)) / 30);
  let j = 0;
  const perMin = pts.map((_, i) => {
    while (j < i - 1 && ms[i]! - ms[j + 1]! >= windowMs) j++;
    const dt = (ms[i]! - ms[j]!) / 60_000;
    return i === 0 || dt <= 0 ? 0 : (cum[i]! - cum[j]!) / dt;
  });
  return [ms.map((t) => t / 1000), cum, perMin];
}

export function ChannelPage(props: { id: string; live: LiveState }) {
  const [ch, setCh] = useState<Channel | undefined>();
  const [history, setHistory] = useState<ChannelHistory | undefined>();
  const [rejections, setRejections] = useState<Rejection[]>([]);
  const [error, setError] = useState('');
  const [topup, setTopup] = useState('1000');
  const [runTopup, topupResult] = useAction();
  const [runRevoke, revokeResult] = useAction();
  useFirstDataMark(ch !== undefined && history !== undefined, 'tally-first-channel');

  const id = props.id;
  useEffect(() => {
    let cancelled = false;
    getJson<Channel>(`/api/channels/${id}`).then(
      (c) => !cancelled && (setCh(c), setError('')),
      (e: unknown) => !cancelled && setError(describeError(e)),
    );
    getJson<{ recent: Rejection[] }>(`/api/rejections?channel=${id}&limit=20`).then(
      (r) => !cancelled && setRejections(r.recent),
      () => undefined,
    );
    return () => void (cancelled = true);
  }, [id, props.live.version]);
  // The history reads segments from the store: fetch it again only when the head moved.
  useEffect(() => {
    let cancelled = false;
    getJson<ChannelHistory>(`/api/channels/${id}/history`).then(
      (h) => !cancelled && setHistory(h),
      () => undefined,
    );
    return () => void (cancelled = true);
  }, [id, ch?.head.seq, ch?.settled.seq]);
  const data = useMemo(() => usageData(history), [history]);

  if (error)
    return html`<h1>Channel</h1>
      <p class="error">${error}</p>`;
  if (!ch) return html`<p class="loading">Loading channel…</p>`;
  const device = history?.device;
  const used = (BigInt(ch.capacity) - BigInt(ch.remaining)).toString();
  // Exact, from the minor-unit strings [P-1.2]: "0.000300 EUR", or "300 minor units" (version 1).
  const terms =
    ch.currency !== null && ch.exponent !== null ? { currency: ch.currency, exponent: ch.exponent } : undefined;
  const money = (minor: string) => (terms ? formatMoney(BigInt(minor), terms) : `${groupDigits(minor)} minor units`);
  return html`
    <h1>
      Channel <code>${short(ch.channelId, 16)}</code>
      <span class=${`pill ${ch.state === 'open' ? 'ok' : 'warn'}`} id="channel-state">${ch.state}</span>
    </h1>
    <section class="panel">
      <dl class="facts">
        <dt>device</dt>
        <dd>
          <code id="channel-device">${ch.devicePublicKey}</code>
          ${device ? html` ${device.revoked ? html`<span class="pill">revoked</span>` : device.connected ? html`<span class="pill ok">online</span>` : html`<span class="pill warn">offline</span>`} last seen ${ago(device.lastSeenMs)}` : null}
        </dd>
        <dt>channel id</dt>
        <dd><code>${ch.channelId}</code></dd>
        ${
          (device?.channels.length ?? 0) > 1
            ? html`<dt>its channels</dt>
                <dd id="device-channels">
                  ${device!.channels.map((c) => html`<a href=${`#/channel/${c}`}><code>${short(c, 10)}</code></a> `)}
                </dd>`
            : null
        }
        <dt>unit, price</dt>
        <dd id="channel-price">${ch.unit}, ${money(ch.pricePerUnit)} per ${ch.unit}</dd>
        <dt>capacity</dt>
        <dd id="channel-capacity">
          ${terms ? money(used) : groupDigits(used)} of ${terms ? money(ch.capacity) : groupDigits(ch.capacity)} used
          <${CapacityBar} used=${used} capacity=${ch.capacity} />
        </dd>
        <dt>head</dt>
        <dd id="channel-head">
          seq ${groupDigits(ch.head.seq)}, ${groupDigits(ch.head.cumUnits)} ${ch.unit}, ${money(ch.head.cumAmount)}
        </dd>
        <dt>settled</dt>
        <dd>seq ${groupDigits(ch.settled.seq)}, unsettled ${money(ch.unsettledAmount)}</dd>
        <dt>last receipt</dt>
        <dd id="channel-receipt">
          ${
            history?.receipt
              ? html`seq ${groupDigits(history.receipt.seq)}, ${groupDigits(history.receipt.cumUnits)} ${ch.unit},
                  signed ${when(history.receipt.hubTimeMs)}
                  <code title=${ch.lastReceipt ?? ''}>${short(ch.lastReceipt ?? '', 24)}</code>`
              : 'none yet'
          }
        </dd>
        <dt>segments stored</dt>
        <dd>
          ${groupDigits(String(ch.segments))}${ch.waitingSegments > 0 ? html` <span class="pill warn">${ch.waitingSegments} waiting</span>` : null}
        </dd>
        ${
          ch.equivocated
            ? html`<dt>equivocation</dt>
                <dd><span class="pill bad">the device signed two chains</span></dd>`
            : null
        }
        ${
          (history?.attention.length ?? 0) > 0
            ? html`<dt>attention</dt>
                <dd>${history!.attention.map((a) => html`<span class="pill bad">${a}</span>`)}</dd>`
            : null
        }
      </dl>
    </section>
    <section class="panel">
      <${Chart}
        id="channel-chart"
        title=${`Usage over time (${ch.unit})`}
        series=${[
          { label: `cumulative ${ch.unit}`, color: '#2563eb' },
          { label: `${ch.unit}/min`, color: '#ea580c', scale: 'rate' },
        ]}
        data=${data}
      />
    </section>
    <section class="panel admin">
      <h2>Operator actions</h2>
      <form
        id="topup-form"
        onSubmit=${(e: Event) => {
          e.preventDefault();
          runTopup(async () => {
            const c = await postJson<Channel>(`/api/channels/${ch.channelId}/topup`, { amount: topup.trim() });
            return `capacity now ${groupDigits(c.capacity)}`;
          });
        }}
      >
        <label
          >Top up by
          <input
            id="topup-amount"
            value=${topup}
            onInput=${(e: Event) => setTopup((e.target as HTMLInputElement).value)}
          />
          minor units</label
        >
        <button type="submit">Top up</button> ${topupResult}
      </form>
      <p>
        <button
          id="revoke-button"
          class="danger"
          disabled=${device?.revoked ?? false}
          onClick=${() => {
            if (!confirm('Revoke this device? Its channels stop accepting vouchers.')) return;
            runRevoke(async () => {
              await postJson(`/api/devices/${ch.devicePublicKey}/revoke`);
              return 'device revoked';
            });
          }}
        >
          Revoke device
        </button>
        ${revokeResult}
      </p>
    </section>
    <div class="columns">
      <section class="panel" id="channel-rejections">
        <h2>Recent rejections</h2>
        ${
          rejections.length === 0
            ? html`<p class="muted">None.</p>`
            : html`<table>
                <tr>
                  <th>when</th>
                  <th>reason</th>
                  <th class="num">seq</th>
                  <th class="num">vouchers</th>
                  <th>detail</th>
                </tr>
                ${rejections.map(
                  (r) =>
                    html`<tr>
                      <td>${ago(r.atMs)}</td>
                      <td><code>${r.reason}</code></td>
                      <td class="num">${r.seq ?? '—'}</td>
                      <td class="num">${r.vouchers}</td>
                      <td>${r.detail ?? ''}</td>
                    </tr>`,
                )}
              </table>`
        }
      </section>
      <section class="panel" id="channel-settlements">
        <h2>Settlements</h2>
        ${
          (history?.settlements.length ?? 0) === 0
            ? html`<p class="muted">Not settled yet.</p>`
            : html`<table>
                <tr>
                  <th>epoch</th>
                  <th>closed</th>
                  <th class="num">seqs</th>
                  <th class="num">delta amount</th>
                  <th>proof</th>
                </tr>
                ${history!.settlements.map(
                  (s) =>
                    html`<tr>
                      <td>${s.epoch}</td>
                      <td>${when(s.closedAtMs)}</td>
                      <td class="num">${s.fromSeq}–${s.toSeq}</td>
                      <td class="num">${money(s.deltaAmount)}</td>
                      <td>
                        <a
                          href=${`/api/settlements/${s.epoch}/bundle?channel=${ch.channelId}`}
                          download=${`tally-epoch-${s.epoch}-${ch.channelId.slice(0, 8)}.json`}
                          onClick=${downloadWithToken}
                          >bundle</a
                        >
                      </td>
                    </tr>`,
                )}
              </table>`
        }
      </section>
    </div>
  `;
}
