// Dashboard benchmark: page weight and time to first render with 10,000 enrolled devices.
//   npx tsx bench/dashboard.ts [--devices N] [--agents N] [--runs N]     (or: npm run bench dashboard)
// A hub with `agents` real agents metering (the simulator's devices) and the rest of the fleet
// enrolled through the batch API (POST /api/devices {devices:[...]}), then each page is loaded
// `runs` times in a fresh headless Chromium context (cold cache). Page weight counts every asset
// and API response the page loads before its first render with data, except the live event
// stream, whose first message is measured on its own. First render: the page's own mark
// (performance.mark when the first data is on screen), from navigation start; FCP beside it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Response } from 'playwright-core';
import { Activity } from '../hub/model/activity.js';
import { generateKeyPair, toHex } from '../protocol/index.js';
import { buildAssets, launchChromium, startFleetHub } from '../support/dashboard-harness.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const DEVICES = arg('devices', 10_000);
const AGENTS = arg('agents', 20);
const RUNS = arg('runs', 5);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

interface Load {
  requests: number;
  transferred: number;
  decoded: number;
  fcpMs: number;
  firstDataMs: number;
}

async function load(browser: Browser, url: string, mark: string): Promise<Load> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const responses: Response[] = [];
  page.on('response', (r) => {
    if (!r.url().endsWith('/api/live')) responses.push(r);
  });
  await page.goto(url);
  await page.waitForFunction((m) => performance.getEntriesByName(m).length > 0, mark, { timeout: 60_000 });
  const timing = await page.evaluate(
    (m) => ({
      firstDataMs: performance.getEntriesByName(m)[0]!.startTime,
      fcpMs: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
    }),
    mark,
  );
  let transferred = 0;
  let decoded = 0;
  for (const r of responses) {
    const sizes = await r.request().sizes();
    transferred += sizes.responseBodySize + sizes.responseHeadersSize;
    decoded += (await r.body()).length;
  }
  await context.close();
  return { requests: responses.length, transferred, decoded, ...timing };
}

async function firstLiveMessageBytes(base: string): Promise<number> {
  const ctl = new AbortController();
  const res = await fetch(`${base}/api/live`, { signal: ctl.signal });
  const reader = res.body!.getReader();
  let text = '';
  // The opening: retry, the rate series, the first tick.
  while ((text.match(/\n\n/g) ?? []).length < 3) text += new TextDecoder().decode((await reader.read()).value);
  ctl.abort();
  return Buffer.byteLength(text);
}

async function apiMedianMs(url: string, n = 20): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await (await fetch(url)).arrayBuffer();
    times.push(performance.now() - t);
  }
  return median(times);
}

await buildAssets();
const env = await startFleetHub({ devices: AGENTS, rate: 10 });
let browser: Browser | undefined;
try {
  const base = env.hub.httpUrl;
  const t0 = performance.now();
  const rest = Array.from({ length: DEVICES - AGENTS }, () => ({
    publicKey: toHex(generateKeyPair().publicKey),
    unit: 'Wh',
    pricePerUnit: '25',
    capacity: '100000000',
  }));
  const keysMs = performance.now() - t0;
  const t1 = performance.now();
  const enrol = await fetch(`${base}/api/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.hub.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ devices: rest }),
  });
  if (enrol.status !== 201) throw new Error(`enrolment failed: ${enrol.status} ${await enrol.text()}`);
  const enrolMs = performance.now() - t1;
  await sleep(5000); // a few seconds of live rates
  await fetch(`${base}/api/settlements`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.hub.adminToken}` },
  });
  const stats = (await (await fetch(`${base}/api/stats`)).json()) as { devices: number; devicesConnected: number };

  browser = await launchChromium();
  const channel = env.devices[0]!.channelId!;
  const pages: [string, string, string][] = [
    ['fleet', '/', 'tally-first-data'],
    ['devices (page 1 of 200)', '/#/devices', 'tally-first-devices'],
    ['devices, search', `/#/devices?q=${rest[1234]!.publicKey.slice(0, 8)}`, 'tally-first-devices'],
    ['channel', `/#/channel/${channel}`, 'tally-first-channel'],
    ['settlements', '/#/settlements', 'tally-first-settlements'],
  ];
  console.log(
    `hub with ${stats.devices} devices enrolled (${stats.devicesConnected} agents connected and metering); ` +
      `batch enrolment of ${DEVICES - AGENTS}: ${Math.round(enrolMs)} ms (key generation ${Math.round(keysMs)} ms, not counted)`,
  );
  console.log(`${RUNS} cold loads per page in headless Chromium, medians:\n`);
  console.log('page                       requests  transferred  decoded     FCP      first render with data');
  for (const [name, path, mark] of pages) {
    await load(browser, base + path, mark); // warm the hub side once (JIT), not counted
    const runs: Load[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await load(browser, base + path, mark));
    const m = (k: keyof Load) => median(runs.map((r) => r[k]));
    console.log(
      `${name.padEnd(26)} ${String(m('requests')).padStart(8)}  ${kib(m('transferred')).padStart(11)}  ${kib(m('decoded')).padStart(10)}  ${`${Math.round(m('fcpMs'))} ms`.padStart(7)}  ${`${Math.round(m('firstDataMs'))} ms`.padStart(8)}`,
    );
  }
  console.log(
    `\nlive stream opening (retry + 10-minute rate series + first tick): ${kib(await firstLiveMessageBytes(base))}`,
  );
  console.log(`API medians over 20 calls with ${stats.devices} devices:`);
  console.log(
    `  GET /api/fleet?limit=50                  ${(await apiMedianMs(`${base}/api/fleet?limit=50`)).toFixed(1)} ms`,
  );
  console.log(
    `  GET /api/fleet?q=<8 hex>                 ${(await apiMedianMs(`${base}/api/fleet?q=${rest[99]!.publicKey.slice(0, 8)}`)).toFixed(1)} ms`,
  );
  console.log(
    `  GET /api/fleet?status=attention&limit=50 ${(await apiMedianMs(`${base}/api/fleet?status=attention&limit=50`)).toFixed(1)} ms`,
  );
  console.log(
    `  GET /api/devices (every device, for comparison) ${(await apiMedianMs(`${base}/api/devices`, 5)).toFixed(1)} ms`,
  );

  // The once-a-second sample over the real registry and store, as the HTTP server runs it.
  const activity = await Activity.create(env.hub.core.fleet, env.hub.core.ledger, env.hub.metrics);
  const samples: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    await activity.sample();
    samples.push(performance.now() - t);
    await sleep(20);
  }
  activity.close();
  console.log(
    `activity sample (once a second) over ${stats.devices} devices and channels: median ${median(samples).toFixed(2)} ms`,
  );
} finally {
  await browser?.close();
  await env.close();
}
