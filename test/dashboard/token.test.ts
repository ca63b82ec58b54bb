// The dashboard of a hub whose reads need a token: the page asks for it when the hub answers 401,
// keeps it in the tab, and then shows the fleet and the live stream with it (sent as a bearer
// header, the live stream included). Debian's Chromium, as in browser.test.ts.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildAssets,
  CHROMIUM,
  HAVE_CHROMIUM,
  IN_CI,
  launchChromium,
  startFleetHub,
  type FleetHub,
} from '../../support/dashboard-harness.js';

const READ_TOKEN = 'a-read-token-for-the-dashboard';
const WAIT = { timeout: 30_000 };

if (!HAVE_CHROMIUM && IN_CI) {
  it('runs the dashboard with a read token in headless Chromium', () => {
    throw new Error(`Chromium is missing at ${CHROMIUM}; the browser tests did not run`);
  });
}

(HAVE_CHROMIUM || !IN_CI ? describe.skipIf(!HAVE_CHROMIUM) : () => undefined)('dashboard with a read token', () => {
  let env: FleetHub;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    await buildAssets();
    env = await startFleetHub({ devices: 2, rate: 10, hub: { httpReadToken: READ_TOKEN } });
    page = await (await browser.newContext()).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  it('asks for the token, then shows the fleet and the live stream with it', async () => {
    const unauthorized: string[] = [];
    page.on('response', (r) => {
      if (r.status() === 401) unauthorized.push(new URL(r.url()).pathname);
    });
    await page.goto(env.hub.httpUrl + '/');
    await page.waitForSelector('#login-form', WAIT);
    expect(await page.textContent('#live-status')).toContain('reconnecting');
    expect(unauthorized).toContain('/api/live');

    await page.fill('#login-token', READ_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(
      () => document.querySelector('#devices-total .value')?.textContent === '2',
      undefined,
      WAIT,
    );
    await page.waitForFunction(
      () => document.querySelector('#live-status')?.textContent?.includes('● live'),
      undefined,
      WAIT,
    );
    expect(await page.locator('#login-form').count()).toBe(0);
    expect(await page.evaluate(() => sessionStorage.getItem('tally-admin-token'))).toBe(READ_TOKEN);
  });
});
