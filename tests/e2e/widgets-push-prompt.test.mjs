// The web-push soft prompt: one widget kind of the site configuration, driven by the same rule
// engine as the forms. It shows from the second page of a visit, the browser's own permission
// prompt is asked only from a click on "allow", and each "not now" (or a refusal) backs off
// 3, then 7, then 30 days, across reloads.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, WRITE_KEY, ADMIN, launch, eventually, d1, trackerLoaded } from './helpers.mjs';

const DAY = 24 * 3600 * 1000;
const ID = 'push-optin';

async function putConfig(config) {
  const res = await fetch(`${BASE}/v1/admin/site-config`, {
    method: 'PUT', headers: { 'content-type': 'application/json', ...ADMIN }, body: JSON.stringify(config),
  });
  assert.equal(res.status, 200, await res.text());
}

const opened = [];
after(async () => {
  for (const b of opened) await b.close();
  await putConfig({ widgets: [] });
});

test('push soft prompt: from the second page, the browser is asked only from its click, and "not now" backs off 3 then 7 days', async () => {
  await putConfig({ push: { enabled: true }, widgets: [{
    id: ID, kind: 'push', rules: { urlInclude: ['/push-test/*'] },
    texts: { title: 'Hear about new arrivals first', body: 'One notification a week at most.',
      button: 'Allow notifications', later: 'Not now', close: 'Close' },
  }] });
  const b = await launch();
  opened.push(b);
  const { context } = b;
  await context.route(`${BASE}/push-test/**`, (route) => route.fulfill({ status: 200, contentType: 'text/html',
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Push test</title></head><body><main><h1>Push test</h1></main>
<script async src="/orbita/orbita.js" data-write-key="${WRITE_KEY}"></script></body></html>` }));
  // Count the page's calls of the browser's permission prompt; note when the triggers are armed.
  await context.addInitScript(() => {
    window.__asked = 0;
    document.addEventListener('orbita:ready', () => { window.__ready = true; });
    if (self.Notification) {
      const ask = Notification.requestPermission.bind(Notification);
      Notification.requestPermission = (...a) => { window.__asked++; return ask(...a); };
    }
  });
  const page = await context.newPage();
  const start = Date.now();
  await page.clock.install({ time: start });
  const open = async (path) => {
    await page.goto(`${BASE}${path}`);
    await trackerLoaded(page);
    await eventually(() => page.evaluate(() => window.__ready === true), 15_000, 'the widgets to be armed');
  };
  const shown = () => page.evaluate((id) => !!document.querySelector(`[data-orbita-form="${id}"]`)?.shadowRoot?.querySelector('form'), ID);
  const hidden = async () => { await page.waitForTimeout(500); assert.equal(await shown(), false, 'the prompt must not show'); };
  const visit = async (when) => {
    await page.clock.setSystemTime(when);
    await open('/push-test/one');
    await hidden(); // first page of the visit
    await open('/push-test/two');
  };
  const notNow = () => page.locator(`[data-orbita-form="${ID}"] >> css=button.later`).click();

  await visit(start);
  await eventually(shown, 10_000, 'the prompt on the second page');
  assert.equal(await page.evaluate(() => window.__asked), 0, 'no browser prompt without a click');
  await notNow();
  assert.equal(await shown(), false);

  // First "not now": 3 days.
  await visit(start + 3 * DAY - 3_600_000);
  await hidden();
  await visit(start + 3 * DAY + 3_600_000);
  await eventually(shown, 10_000, 'the prompt after 3 days');
  await notNow();

  // Second: 7 days.
  const t2 = start + 3 * DAY + 3_600_000;
  await visit(t2 + 7 * DAY - 3_600_000);
  await hidden();
  await visit(t2 + 7 * DAY + 3_600_000);
  await eventually(shown, 10_000, 'the prompt after 7 more days');

  // "Allow": now the browser is asked; headless Chromium refuses, which counts as a "not now"
  // (30 days) and is reported with its reason.
  const visitor = await page.evaluate(() => window.orbita.anonymousId());
  await page.locator(`[data-orbita-form="${ID}"] >> css=button.submit`).click();
  await eventually(() => page.evaluate(() => window.__asked === 1), 10_000, 'the browser prompt after the click');
  await eventually(() => d1("SELECT COUNT(*) AS n FROM events WHERE anonymous_id = ? AND event = 'Push Subscribe Failed' AND json_extract(raw, '$.properties.reason') = 'denied'", visitor)[0].n === 1,
    15_000, 'the refusal to be reported');
  const memory = await page.evaluate(() => localStorage.getItem('orbita_widgets'));
  assert.match(memory, new RegExp(`\\|${ID},\\d+,0,\\d+,3(\\||$)`), `three dismissals remembered: ${memory}`);
  const t3 = t2 + 7 * DAY + 3_600_000;
  await visit(t3 + 29 * DAY);
  await hidden();
  const shownEvents = d1("SELECT COUNT(*) AS n FROM events WHERE anonymous_id = ? AND event = 'Widget Shown' AND json_extract(raw, '$.properties.widget_kind') = 'push'", visitor)[0].n;
  assert.equal(shownEvents, 3, 'shown exactly three times');
});
