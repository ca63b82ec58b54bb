import { describe, expect, it } from 'vitest';
import { reconcile } from '../../simulator/ledger.js';
import { buildReport, formatReport, reportToJson } from '../../simulator/report.js';
import { renderHtml } from '../../simulator/html.js';
import { StageJoin } from '../../simulator/stages.js';
import { Timeline } from '../../simulator/timeline.js';

const NO_LOOP = { main: { p50Ms: 0, p99Ms: 0, maxMs: 0 }, fleet: [] };

function sampleStages() {
  const join = new StageJoin();
  join.hubSide('c1', 10n, 1002, 1003, 1004);
  join.fleetSide('c1', 10, 1000, 1001, 1005);
  const out = join.report();
  join.destroy();
  return out;
}

function sampleReport(acceptedUnits: bigint) {
  const signed = new Map([['c1', { units: 10n, amount: 30n }]]);
  const accepted = new Map([['c1', { units: acceptedUnits, amount: acceptedUnits * 3n }]]);
  const timeline = new Timeline(0);
  timeline.recordReceipt(10, 12.5);
  timeline.tick(1000, 0);
  return buildReport({
    seed: 1,
    devices: 1,
    ratePerDevice: 10,
    durationS: 1,
    hub: 'embedded',
    reconciliation: reconcile(signed, accepted, accepted),
    meteredUnits: 10n,
    unsignedUnits: 0n,
    bundlesVerified: true,
    epochs: [1],
    rejected: { SIG_INVALID: 2 },
    faultPlan: { tamper: 0.1 },
    faultsInjected: { tamper: 2 },
    agentLog: { LINK_UP: 1 },
    vouchers: 10,
    elapsedS: 1,
    latency: timeline.latency(),
    stages: sampleStages(),
    eventLoop: { main: { p50Ms: 0.1, p99Ms: 2.5, maxMs: 4 }, fleet: [{ p50Ms: 0.2, p99Ms: 7.5, maxMs: 9 }] },
    timeline: timeline.points,
    process: { cpuUserS: 0.1, cpuSystemS: 0, maxRssMiB: 50, fleetCpuS: 0, fleetMaxRssMiB: 0 },
  });
}

describe('simulation report', () => {
  it('has the fields scripts rely on, with money as strings', () => {
    const r = JSON.parse(reportToJson(sampleReport(10n)));
    expect(r.ok).toBe(true);
    expect(r.units).toEqual({ metered: '10', signed: '10', accepted: '10', settled: '10' });
    expect(r.amount).toEqual({ signed: '30', accepted: '30', settled: '30' });
    expect(r.lost).toBe('0');
    expect(r.rejected).toEqual({ total: 2, byReason: { SIG_INVALID: 2 } });
    expect(r.faults.tamper).toEqual({ setting: 0.1, injected: 2 });
    expect(r.latencyMs.p50).toBeCloseTo(12.5, 1);
    for (const key of ['devices', 'durationS', 'throughput', 'duplicated']) expect(r).toHaveProperty(key);
    expect(r.stagesMs.stages.brokerNetwork.p50).toBeCloseTo(1, 3);
    expect(r.stagesMs.joined).toBe(1);
    expect(r.eventLoopMs.fleet[0].p99Ms).toBe(7.5);
  });

  it('prints every stage and both event loops in the summary and on the page', () => {
    const r = sampleReport(10n);
    const text = formatReport(r);
    expect(text).toMatch(
      /agent 1 \/ 1, broker\+network 1 \/ 1, hub commit 1 \/ 1, hub receipt 1 \/ 1, back 1 \/ 1, total 5 \/ 5/,
    );
    expect(text).toMatch(/hub 2\.5 \/ 4, fleet 7\.5 \/ 9/);
    const html = renderHtml(r);
    expect(html).toContain('broker+network');
    expect(html).toContain('Event-loop lag');
  });

  it('says over how many group commits the steady state spread its cpu', () => {
    const r = sampleReport(10n);
    r.process.steady = {
      fromS: 2,
      toS: 6,
      cpuS: 0.5,
      vouchers: 84,
      cpuUsPerVoucher: 60,
      systemCpuS: 0.2,
      groupCommits: 10,
    };
    expect(formatReport(r)).toMatch(
      /60 us of cpu per voucher, 0\.2 s of it in the kernel; 10 group commits of 8\.4 vouchers/,
    );
    r.process.steady.groupCommits = null; // a remote hub
    expect(formatReport(r)).not.toMatch(/group commits/);
  });

  it('fails and names the channel when units were lost', () => {
    const r = sampleReport(7n);
    expect(r.ok).toBe(false);
    expect(r.lost).toBe('3');
    expect(formatReport(r)).toMatch(/FAILED[\s\S]*channel c1/);
  });

  it('does not pass a run that signed nothing', () => {
    const none = new Map<string, { units: bigint; amount: bigint }>();
    const r = buildReport({
      seed: 1,
      devices: 1,
      ratePerDevice: 1,
      durationS: 1,
      hub: 'embedded',
      reconciliation: reconcile(none, none, none),
      meteredUnits: 0n,
      unsignedUnits: 0n,
      bundlesVerified: true,
      epochs: [],
      rejected: {},
      faultPlan: {},
      faultsInjected: {},
      agentLog: {},
      vouchers: 0,
      elapsedS: 1,
      latency: { p50: 0, p95: 0, p99: 0, max: 0, count: 0 },
      stages: new StageJoin().report(),
      eventLoop: NO_LOOP,
      timeline: [],
      process: { cpuUserS: 0, cpuSystemS: 0, maxRssMiB: 0, fleetCpuS: 0, fleetMaxRssMiB: 0 },
    });
    expect(r.ok).toBe(false);
  });

  it('renders a self-contained page with charts and no external resource', () => {
    const html = renderHtml(sampleReport(10n));
    expect(html).toContain('<svg');
    expect(html).toContain('Conservation holds');
    expect(html).not.toMatch(/<script|https?:\/\//);
  });
});

describe('latency percentiles', () => {
  it('never reports a percentile above the largest latency recorded', () => {
    const timeline = new Timeline(0);
    // 12.345 ms falls in an HDR bucket whose top is 12.351 ms: unclamped, p99 > max.
    for (const ms of [5, 7, 12.345]) timeline.recordReceipt(1, ms);
    const point = timeline.tick(1000, 0);
    const l = timeline.latency();
    expect(l.max).toBe(12.345);
    expect(l.p99).toBe(12.345);
    expect(l.p95).toBeLessThanOrEqual(l.max);
    expect(point.p99Ms).toBe(12.345);
  });
});
