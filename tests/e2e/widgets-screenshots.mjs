// Screenshots of every widget for the README: each subscription form kind, the web-push soft
// prompt, and a recommendation block on a desktop and on a narrow screen (the carousel).
// `cargo xtask screenshots` runs this against a fresh collector and writes docs/widgets/*.png
// (committed). Not part of the test suite (no `.test.mjs`): it rewrites files in the repository.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { BASE, ADMIN, launch, eventually, trackerLoaded } from './helpers.mjs';

const OUT = new URL('../../docs/widgets/', import.meta.url);
const texts = {
  title: '10 % off your first order', body: 'New pieces, restocks and a welcome code, twice a month.',
  button: 'Send me the code', success: 'Check your inbox to confirm.',
  consent: 'I agree to receive Lumen & Loom emails. I can unsubscribe at any time.',
};
const fields = [{ name: 'email', type: 'email', label: 'Email', required: true }, { name: 'firstName', type: 'name', label: 'First name' }];
const widget = (id, kind, extra = {}) => ({ id, kind, rules: { urlInclude: [`/shot-${id}`] }, texts, fields, ...extra });

let browser;
after(async () => {
  await browser?.close();
  await fetch(`${BASE}/v1/admin/site-config`, { method: 'PUT', headers: ADMIN, body: '{"widgets":[]}' });
});

test('screenshots of every form kind and the push soft prompt', async () => {
  const res = await fetch(`${BASE}/v1/admin/site-config`, { method: 'PUT', headers: ADMIN, body: JSON.stringify({
    silentIntervalSeconds: 0,
    push: { enabled: true },
    widgets: [
      widget('popup', 'popup'),
      widget('floating', 'floating', { position: 'bottom-right', style: { '--orbita-accent': '#8a4b2a' } }),
      widget('bar', 'bar', { position: 'bottom', texts: { ...texts, title: 'Order updates by text', body: '' },
        fields: [{ name: 'phone', type: 'phone', label: 'Mobile number', required: true }] }),
      widget('embedded', 'embedded'),
      // The push prompt shows from a visit's second page; at once here, for the picture.
      { id: 'push', kind: 'push', rules: { trigger: 'delay', triggerValue: 0, urlInclude: ['/shot-push'] },
        texts: { title: 'Hear about new arrivals first', body: 'One notification a week at most. You can turn them off at any time.',
          button: 'Allow notifications', later: 'Not now', close: 'Close' } },
    ],
  }) });
  assert.equal(res.status, 200);
  mkdirSync(OUT, { recursive: true });
  browser = await launch();
  // The demo shop's category page as the backdrop, with a placeholder for the embedded form.
  await browser.context.route(`${BASE}/shot-*`, async (route) => {
    const shop = await (await fetch(`${BASE}/c/lighting/`)).text();
    const html = route.request().url().endsWith('/shot-embedded')
      ? shop.replace('<main>', '<main><div data-orbita-widget="embedded" style="min-height:360px;max-width:460px;margin:16px 0"></div>')
      : shop;
    await route.fulfill({ status: 200, contentType: 'text/html', body: html });
  });
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1100, height: 760 });
  for (const kind of ['popup', 'floating', 'bar', 'embedded', 'errors', 'push']) {
    const id = kind === 'errors' ? 'popup' : kind;
    await page.goto(`${BASE}/shot-${id}`);
    await trackerLoaded(page);
    const host = page.locator(`[data-orbita-form="${id}"],[data-orbita-widget="${id}"]`);
    await eventually(async () => (await host.getAttribute('data-orbita-state')) === 'open', 10_000, `${id} to open`);
    if (kind === 'errors') {
      await host.locator('css=input[name=email]').fill('ana@');
      await host.locator('css=button.submit').click();
    }
    await page.waitForTimeout(300);
    const file = new URL(`${kind}.png`, OUT);
    await page.screenshot({ path: file.pathname });
    assert.ok(statSync(file).size > 10_000, `${kind}.png has content`);
  }
});

test('screenshots of a recommendation block: desktop row and narrow-screen carousel', async () => {
  browser = browser || await launch();
  const page = await browser.context.newPage();
  for (const [name, viewport, path, placement] of [
    ['recommendations', { width: 1100, height: 760 }, '/', 'home'],
    ['recommendations-narrow', { width: 390, height: 760 }, '/p/LL-1002', 'product'],
  ]) {
    await page.setViewportSize(viewport);
    await page.goto(`${BASE}${path}`);
    const host = page.locator(`[data-orbita-placement="${placement}"]`);
    await eventually(async () => (await host.getAttribute('data-orbita-state')) === 'shown', 15_000, `the ${placement} block`);
    await host.evaluate((el) => el.scrollIntoView({ block: 'center' }));
    // The cards' images are lazy: wait for the ones in view.
    await eventually(() => host.evaluate((el) => [...el.shadowRoot.querySelectorAll('img')]
      .filter((i) => i.getBoundingClientRect().left < innerWidth).every((i) => i.complete && i.naturalWidth > 0)), 10_000, 'the images');
    await page.waitForTimeout(300);
    const box = await host.boundingBox();
    const file = new URL(`${name}.png`, OUT);
    const pad = 12;
    await page.screenshot({ path: file.pathname, clip: {
      x: Math.max(0, box.x - pad), y: Math.max(0, box.y - pad),
      width: Math.min(viewport.width, box.width + 2 * pad), height: box.height + 2 * pad,
    } });
    assert.ok(statSync(file).size > 10_000, `${name}.png has content`);
  }
  await page.close();
});
