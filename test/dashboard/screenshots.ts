// Takes the screenshots of docs/images/: a hub with 24 simulated devices (a few wire faults, so
// the attention panel and the rejections have something to show) runs for a minute, settles
// twice, then headless Chromium captures each page.
//   npx tsx test/dashboard/screenshots.ts [outDir]     (default docs/images)
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildAssets, launchChromium, startFleetHub } from '../../support/dashboard-harness.js';

const outDir = process.argv[2] ?? 'docs/images';
const RUN_S = Number(process.env.TALLY_SCREENSHOT_RUN_S ?? 60);

mkdirSync(outDir, { recursive: true });
await buildAssets();
const env = await startFleetHub({
  devices: 24,
  rate: 5,
  faults: { duplicate: 0.02, reorder: 0.03, tamper: 0.01 },
  // Varied capacities, so the bars differ and one channel runs out during the run.
  capacity: (i) => (i === 1 ? 1_000n : BigInt(20_000 + i * 4_000)),
});
const browser = await launchChromium();
try {
  const settle = () =>
    fetch(`${env.hub.httpUrl}/api/settlements`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.hub.adminToken}` },
    });
  await sleep((RUN_S * 1000) / 2);
  await settle();
  await sleep((RUN_S * 1000) / 2);
  await settle();
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const shoot = async (hash: string, name: string, ready: string) => {
    await page.goto(`${env.hub.httpUrl}/${hash}`);
    await page.waitForSelector(ready, { timeout: 30_000 });
    await sleep(2500);
    await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
    console.log(join(outDir, `${name}.png`));
  };
  await shoot('', 'dashboard-fleet', '#fleet-chart canvas');
  await shoot('#/devices', 'dashboard-devices', '.device-row');
  await shoot(`#/channel/${env.devices[4]!.channelId}`, 'dashboard-channel', '#channel-chart canvas');
  await shoot('#/settlements', 'dashboard-settlements', '.epoch-row');
  await page.click('.epoch-row button.verify');
  await page.waitForSelector('.epoch-row .verdict');
  await page.screenshot({ path: join(outDir, 'dashboard-settlements.png'), fullPage: true });
} finally {
  await browser.close();
  await env.close();
}
