// monitoring/ as an operator uses it, checked with Prometheus' own promtool: the alert rules load
// and fire on the series they should (`promtool test rules`), a live hub's /metrics passes
// `promtool check metrics`, has a zero series for every reason code and the money and settlement
// gauges, and every metric the rules and the Grafana dashboard query exists in that scrape.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_REASONS } from '../../hub/base/reasons.js';
import type { HubHandle } from '../../hub/server.js';
import { REASONS } from '../../protocol/index.js';
import { readyDevice, type TestDevice } from './helpers/device.js';
import { tempDir, testHub } from './helpers/hub.js';

const PROMTOOL = process.env.TALLY_PROMTOOL ?? '/usr/bin/promtool';
const HAVE_PROMTOOL = existsSync(PROMTOOL);
const IN_CI = process.env.CI === 'true';
const RULES = 'monitoring/prometheus/tally-alerts.yml';
const DASHBOARD = 'monitoring/grafana/tally-hub.json';

function promtool(args: string[], input?: string) {
  const r = spawnSync(PROMTOOL, args, { encoding: 'utf8', timeout: 60_000, ...(input ? { input } : {}) });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Metric names an expression reads (functions, keywords and label names aside). */
function metricNames(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, '').replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  return [...withoutLabels.matchAll(/\b(tally_[a-z0-9_]+|process_[a-z0-9_]+|nodejs_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: Panel[] };
const dashboardExprs = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })),
);
const ruleExprs = [...readFileSync(RULES, 'utf8').matchAll(/expr: (?:\|\n((?:\s{10}.*\n)+)|(.*))/g)].map(
  (m) => (m[1] ?? m[2])!,
);

if (!HAVE_PROMTOOL && IN_CI) {
  it('checks monitoring/ with promtool', () => {
    throw new Error(`promtool is missing at ${PROMTOOL}: .ci/run installs Debian's prometheus package`);
  });
} else if (!HAVE_PROMTOOL) {
  console.warn(`\n*** monitoring checks NOT RUN: ${PROMTOOL} is missing (apt-get install -y prometheus). ***\n`);
}

(HAVE_PROMTOOL || !IN_CI ? describe.skipIf(!HAVE_PROMTOOL) : () => undefined)('monitoring/ with promtool', () => {
  const tmp = tempDir();
  let hub: HubHandle;
  let device: TestDevice;
  let scrape: string;

  beforeAll(async () => {
    hub = await testHub(join(tmp.dir, 'hub'));
    device = await readyDevice(hub, { price: 7n });
    await device.publish(device.build(12));
    await device.receiptAtLeast(12n);
    await hub.core.settle();
    await device.publish(device.build(3));
    await device.receiptAtLeast(15n);
    await device.publish(new Uint8Array([1, 1, 0])); // undecodable: one refusal
    await hub.core.flush();
    scrape = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  });
  afterAll(async () => {
    await device?.disconnect();
    await hub?.close();
    tmp.cleanup();
  });

  it('loads the alert rules, and each alert fires on the series it should and only then', () => {
    const check = promtool(['check', 'rules', RULES]);
    expect(check.status, check.output).toBe(0);
    expect(check.output).toContain('SUCCESS: 9 rules found');
    const test = promtool(['test', 'rules', 'monitoring/prometheus/tally-alerts.test.yml']);
    expect(test.status, test.output).toBe(0);
    const config = promtool(['check', 'config', 'monitoring/prometheus/prometheus.yml']);
    expect(config.status, config.output).toBe(0);
  });

  it("passes `promtool check metrics` on a live hub's scrape", () => {
    const r = promtool(['check', 'metrics'], scrape);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('has a zero series for every reason code, so the first refusal shows in rate()', () => {
    for (const reason of [...Object.keys(REASONS), ...Object.keys(HUB_REASONS)]) {
      const value = reason === 'DECODE_TRUNCATED' ? 1 : 0;
      expect(scrape).toContain(`tally_vouchers_rejected_total{reason="${reason}"} ${value}\n`);
    }
  });

  it('shows money and settlement from the ledger', () => {
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(scrape)?.[1]);
    expect(value('tally_amount_accepted_total')).toBe(15 * 7);
    expect(value('tally_ledger_accepted_amount')).toBe(15 * 7);
    expect(value('tally_ledger_settled_amount')).toBe(12 * 7);
    expect(value('tally_settlement_epochs')).toBe(1);
    const closedAt = value('tally_settlement_last_epoch_timestamp_seconds');
    expect(Math.abs(closedAt - Date.now() / 1000)).toBeLessThan(300);
    expect(scrape).toContain('tally_channels{state="open"} 1\n');
  });

  it('queries only metrics the hub exports, in the rules and in the dashboard', () => {
    const names = new Set([...scrape.matchAll(/^([a-z_:][a-z0-9_:]*)[{ ]/gm)].map((m) => m[1]!));
    const used = [...ruleExprs, ...dashboardExprs.map((d) => d.expr)].flatMap(metricNames);
    expect(used.length).toBeGreaterThan(20);
    for (const name of used) expect(names, name).toContain(name);
  });

  it('has a dashboard whose every query is valid PromQL (checked as recording rules)', () => {
    expect(dashboard.uid).toBe('tally-hub');
    expect(dashboardExprs.length).toBeGreaterThan(20);
    // Grafana's variables replaced by what they expand to.
    const rules = dashboardExprs.map(({ expr }, i) => ({
      record: `tally:dashboard:query${i}`,
      expr: expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*'),
    }));
    const file = join(tmp.dir, 'dashboard-queries.yml');
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = promtool(['check', 'rules', file]);
    expect(r.status, r.output).toBe(0);
  });
});
