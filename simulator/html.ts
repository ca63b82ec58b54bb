// A self-contained HTML report: no script, no network, charts drawn as inline SVG at build time,
// so the page opens anywhere (a CI artefact, an e-mail attachment) and shows the same thing.
import { STAGE_LABELS, formatCounts, formatFaults, formatLoops, type SimReport } from './report.js';
import type { TimelinePoint } from './timeline.js';

interface Series {
  name: string;
  color: string;
  values: number[];
}

export function renderHtml(r: SimReport): string {
  const t = r.timeline.map((p) => p.t);
  const throughput = lineChart('Throughput (vouchers/s)', t, [
    { name: 'vouchers/s', color: '#2563eb', values: r.timeline.map((p) => p.vouchersPerSec) },
  ]);
  const latency = lineChart('Latency, sign to receipt (ms)', t, [
    { name: 'p50', color: '#16a34a', values: r.timeline.map((p) => p.p50Ms) },
    { name: 'p99', color: '#dc2626', values: r.timeline.map((p) => p.p99Ms) },
  ]);
  const loops = lineChart('Event-loop lag, worst in each second (ms)', t, [
    { name: r.hub === 'embedded' ? 'hub' : 'simulator', color: '#ea580c', values: r.timeline.map((p) => p.hubLoopMs) },
    { name: 'fleet', color: '#0891b2', values: r.timeline.map((p) => p.fleetLoopMs) },
  ]);
  const stageRows = STAGE_LABELS.map(([k, label]) => {
    const v = r.stagesMs.stages[k];
    const cells = v === null ? ['n/a', 'n/a', 'n/a', 'n/a', '0'] : [v.p50, v.p95, v.p99, v.max, v.count].map(String);
    return `<tr><td>${escape(label)}</td>${cells.map((c) => `<td class="n">${escape(c)}</td>`).join('')}</tr>`;
  }).join('');
  const stages = `<figure><figcaption>Sign to receipt by stage (ms; ${r.stagesMs.joined} segments joined, ${r.stagesMs.clockAnomalies} clock anomalies)</figcaption>
<table><tr><td>stage</td><td class="n">p50</td><td class="n">p95</td><td class="n">p99</td><td class="n">max</td><td class="n">segments</td></tr>${stageRows}</table></figure>`;
  const backlog = lineChart('Backlog (unacknowledged vouchers)', t, [
    { name: 'backlog', color: '#9333ea', values: r.timeline.map((p: TimelinePoint) => p.backlog) },
  ]);
  const rows: Array<[string, string]> = [
    ['Fleet', `${r.devices} devices x ${r.ratePerDevice} units/s for ${r.durationS} s (${r.hub} hub, seed ${r.seed})`],
    [
      'Units metered / signed / accepted / settled',
      `${r.units.metered} / ${r.units.signed} / ${r.units.accepted} / ${r.units.settled}`,
    ],
    ['Amount signed / accepted / settled', `${r.amount.signed} / ${r.amount.accepted} / ${r.amount.settled}`],
    ['Lost / duplicated', `${r.lost} / ${r.duplicated}`],
    ['Rejected', r.rejected.total === 0 ? '0' : `${r.rejected.total} (${formatCounts(r.rejected.byReason)})`],
    ['Faults', formatFaults(r.faults)],
    ['Throughput', `${r.throughput.vouchersPerSec} vouchers/s`],
    [
      'Latency',
      `p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
    ],
    ['Event-loop lag (p99 / max ms)', formatLoops(r)],
    [
      'Settlement',
      `epochs ${r.settlement.epochs.join(', ') || 'none'}, bundles ${r.settlement.bundlesVerified ? 'verified' : 'FAILED'}`,
    ],
  ];
  const verdict = r.ok ? 'Conservation holds' : 'Conservation FAILED';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tally fleet simulation</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:960px;color:#111}
h1{font-size:1.4rem}.verdict{padding:.5rem 1rem;border-radius:6px;display:inline-block;color:#fff;background:${r.ok ? '#16a34a' : '#dc2626'}}
table{border-collapse:collapse;margin:1rem 0}td{padding:.25rem .75rem;border-bottom:1px solid #ddd;vertical-align:top}
td:first-child{color:#555;white-space:nowrap}td.n{text-align:right}figure{margin:1.5rem 0}figcaption{font-weight:600;margin-bottom:.25rem}
</style></head><body>
<h1>Tally fleet simulation</h1>
<p class="verdict">${escape(verdict)}</p>
<table>${rows.map(([k, v]) => `<tr><td>${escape(k)}</td><td>${escape(v)}</td></tr>`).join('')}</table>
${throughput}
${latency}
${stages}
${loops}
${backlog}
</body></html>
`;
}

const W = 900;
const H = 220;
const PAD = { left: 60, right: 16, top: 12, bottom: 28 };

function lineChart(title: string, xs: number[], series: Series[]): string {
  const maxX = Math.max(1, ...xs);
  const maxY = niceMax(Math.max(1, ...series.flatMap((s) => s.values)));
  const x = (v: number) => PAD.left + (v / maxX) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / maxY) * (H - PAD.top - PAD.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * maxY);
  const grid = ticks
    .map(
      (v) =>
        `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>` +
        `<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11" fill="#555">${formatTick(v)}</text>`,
    )
    .join('');
  const lines = series
    .map((s) => {
      const pts = s.values.map((v, i) => `${x(xs[i]!).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      return `<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${pts}"/>`;
    })
    .join('');
  const legend = series
    .map(
      (s, i) =>
        `<text x="${PAD.left + 10 + i * 90}" y="${PAD.top + 12}" font-size="12" fill="${s.color}">— ${escape(s.name)}</text>`,
    )
    .join('');
  const axis =
    `<text x="${W - PAD.right}" y="${H - 6}" text-anchor="end" font-size="11" fill="#555">${maxX.toFixed(0)} s</text>` +
    `<text x="${PAD.left}" y="${H - 6}" font-size="11" fill="#555">0 s</text>`;
  return `<figure><figcaption>${escape(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${escape(title)}">${grid}${lines}${legend}${axis}</svg></figure>`;
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return Math.ceil(v / p) * p;
}

function formatTick(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v % 1 === 0 ? `${v}` : v.toFixed(1);
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
