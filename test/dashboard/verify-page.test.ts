// The dashboard's Verify page in headless Chromium: a real bundle from a hub checks valid, a
// tampered copy dropped on the page is refused with its reasons, a wrong hub key is caught, and
// the page sends nothing anywhere while it does so (the check runs in a worker on protocol/ code).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubHandle } from '../../hub/server.js';
import { tempDir, testHub } from '../hub/helpers/hub.js';
import { makeBundles, type Bundles } from '../verifier/bundle.js';
import { buildAssets, CHROMIUM, HAVE_CHROMIUM, IN_CI, launchChromium } from '../../support/dashboard-harness.js';

const WAIT = { timeout: 30_000 };
/** TALLY_SCREENSHOTS=<dir> keeps a screenshot of each verdict, as browser.test.ts does. */
const SHOTS = process.env.TALLY_SCREENSHOTS;

if (!HAVE_CHROMIUM && IN_CI) {
  it('runs the Verify page in headless Chromium', () => {
    throw new Error(`Chromium is missing at ${CHROMIUM}: .ci/run installs Debian's chromium package`);
  });
}

(HAVE_CHROMIUM || !IN_CI ? describe.skipIf(!HAVE_CHROMIUM) : () => undefined)('Verify page in Chromium', () => {
  const tmp = tempDir('tally-verify-page-');
  let bundles: Bundles;
  let hub: HubHandle;
  let browser: Browser;
  let page: Page;
  const requests: Request[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    await buildAssets();
    bundles = await makeBundles(tmp.dir);
    // A different hub serves the page: the bundle needs nothing from the hub that made it.
    hub = await testHub(join(tmp.dir, 'serving-hub'));
    page = await browser.newPage();
    await page.goto(`${hub.httpUrl}/#/verify`);
    await page.waitForSelector('#drop-zone', WAIT);
    page.on('request', (r) => requests.push(r));
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    tmp.cleanup();
  });

  const result = (verdict: string) => page.waitForSelector(`#verify-result[data-verdict="${verdict}"]`, WAIT);
  const shot = async (name: string) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  it('shows a valid bundle chosen with the file picker, channel by channel', async () => {
    await page.setInputFiles('#bundle-file', {
      name: 'epoch-1.json',
      mimeType: 'application/json',
      buffer: Buffer.from(bundles.valid),
    });
    const text = (await (await result('valid')).textContent())!;
    expect(text).toContain('epoch-1.json is valid: epoch 1 of test-net');
    expect(text).toContain('2 of 2 entries (complete), total delta 92 minor units');
    expect(text).toContain(bundles.hubKey);
    expect(await page.locator('tr.verified-channel').count()).toBe(2);
    await shot('dashboard-verify-valid');
  });

  it('refuses a tampered bundle dropped on the page, with its reasons', async () => {
    const drop = await page.evaluateHandle((text) => {
      const data = new DataTransfer();
      data.items.add(new File([text], 'tampered.json', { type: 'application/json' }));
      return data;
    }, bundles.tampered);
    await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer: drop });
    const text = (await (await result('invalid')).textContent())!;
    expect(text).toMatch(/tampered\.json is INVALID: \d+ problem\(s\)/);
    expect(text).toMatch(/SIG_INVALID|PROOF_INVALID|BAD_LINK|DECODE_/);
    await shot('dashboard-verify-invalid');
  });

  it('checks the hub key when one is given, and says when a file is not JSON', async () => {
    await page.fill('#hub-key', 'ab'.repeat(32));
    await page.setInputFiles('#bundle-file', {
      name: 'again.json',
      mimeType: 'application/json',
      buffer: Buffer.from(bundles.valid),
    });
    await result('invalid');
    await page.fill('#hub-key', bundles.hubKey);
    await page.setInputFiles('#bundle-file', {
      name: 'right-key.json',
      mimeType: 'application/json',
      buffer: Buffer.from(bundles.valid),
    });
    expect(await (await result('valid')).textContent()).toContain('right-key.json is valid');
    await page.setInputFiles('#bundle-file', {
      name: 'junk.json',
      mimeType: 'application/json',
      buffer: Buffer.from('{"format":'),
    });
    expect(await (await result('unreadable')).textContent()).toContain('junk.json is not a readable bundle');
  });

  it('uploads nothing: the only requests are GETs for its own assets and the live stream', () => {
    expect(requests.length).toBeGreaterThan(0); // the worker script, at least
    for (const r of requests) {
      expect(r.method(), r.url()).toBe('GET');
      expect(r.postData()).toBeNull();
      expect(new URL(r.url()).pathname).toMatch(/^\/assets\/verify-worker\.js$|^\/api\/live$/);
    }
  });
});
