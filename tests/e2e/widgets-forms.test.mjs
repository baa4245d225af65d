// Subscription forms and the display-rule engine: site configuration API, triggers, frequency
// caps and the silent interval across reloads, accessibility (axe-core, keyboard), subscribe
// into the identity graph with a consent record, hostile text rendered as text.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { BASE, WRITE_KEY, ADMIN, launch, eventually, d1, uniqueId, trackerLoaded } from './helpers.mjs';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const DAY = 24 * 3600 * 1000;

/** Stores a site configuration; returns `{status, body}`. */
async function putConfig(config, headers = ADMIN) {
  const res = await fetch(`${BASE}/v1/admin/site-config`, {
    method: 'PUT', headers: { 'content-type': 'application/json', ...headers },
    body: typeof config === 'string' ? config : JSON.stringify(config),
  });
  return { status: res.status, body: await res.json() };
}

/** A subscription form widget for the test pages under `/forms-test/<path>`. */
function form(id, kind, rules = {}, extra = {}) {
  return {
    id, kind, rules: { urlInclude: ['/forms-test/*'], ...rules },
    texts: { title: `Join ${id}`, body: 'News and offers, twice a month.', button: 'Subscribe',
      success: 'Thank you for subscribing!', consent: 'I agree to receive emails from Lumen & Loom.', close: 'Close' },
    fields: [{ name: 'email', type: 'email', label: 'Email', required: true }, { name: 'firstName', type: 'name', label: 'First name' }],
    ...extra,
  };
}

/** A plain, accessible test page on the collector's origin with the script-tag snippet. */
function pageHtml(attrs = '') {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Forms test</title></head>
<body><main><h1>Forms test page</h1><p><button id="before" type="button">A page button</button></p>
<div data-orbita-widget="embedded-1" style="min-height:360px"></div>
<div style="height:4000px">Long content</div></main>
<script async src="/orbita/orbita.js" ${attrs} data-write-key="${WRITE_KEY}"></script></body></html>`;
}

const opened = [];
after(async () => {
  for (const b of opened) await b.close();
  await putConfig({ widgets: [] }); // leave the site as the other tests expect it
});

/** A fresh browser (own visitor, own storage) serving the test pages. */
async function browser(attrs = '') {
  const b = await launch();
  opened.push(b);
  await b.context.route(`${BASE}/forms-test/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: pageHtml(attrs) }));
  // The widgets announce when their triggers are armed (page.clock would hide a User Timing mark).
  await b.context.addInitScript(() => document.addEventListener('orbita:ready', () => { window.__formsReady = true; }));
  return b;
}

/** Opens `path`, waits for the tracker and (unless `armed` is false) for the forms to be armed. */
async function open(page, path, armed = true) {
  await page.goto(`${BASE}${path}`);
  await trackerLoaded(page);
  if (armed) await eventually(() => page.evaluate(() => window.__formsReady === true), 15_000, 'the forms to be armed');
}

const shown = (page, id) => page.evaluate((id) => {
  const host = document.querySelector(`[data-orbita-form="${id}"],[data-orbita-widget="${id}"]`);
  return !!host?.shadowRoot?.querySelector('form, [role=status]');
}, id);
const waitShown = (page, id) => eventually(() => shown(page, id), 10_000, `${id} to show`);
/** Waits a little and checks the widget stayed hidden. */
async function staysHidden(page, id, ms = 600) {
  await page.waitForTimeout(ms);
  assert.equal(await shown(page, id), false, `${id} must not show yet`);
}
const closeButton = (page, id) => page.locator(`[data-orbita-form="${id}"] >> css=button.x`);

test('site configuration: validated with the path of the bad field, admin only, served cacheable to browsers', async () => {
  const bad = await putConfig({ widgets: [form('a', 'popup'), form('b', 'popup', { trigger: 'scroll', triggerValue: 150 })] });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'invalid_site_config');
  assert.equal(bad.body.path, 'widgets[1].rules.triggerValue');
  const badKind = await putConfig({ widgets: [{ ...form('a', 'modal') }] });
  assert.equal(badKind.body.path, 'widgets[0].kind');
  assert.equal((await putConfig('{"widgets": [', ADMIN)).body.error, 'invalid_site_config');
  assert.equal((await putConfig({ widgets: [] }, { authorization: 'Bearer nope' })).status, 401);
  assert.equal((await putConfig({ widgets: [] }, {})).status, 401);

  const ok = await putConfig({ widgets: [form('cfg-1', 'floating')] });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal((await fetch(`${BASE}/v1/site-config`)).status, 401, 'the write key is required');
  const res = await fetch(`${BASE}/v1/site-config?writeKey=${WRITE_KEY}`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('cache-control'), /max-age=60/);
  const etag = res.headers.get('etag');
  assert.match(etag, /^"[0-9a-f]{20}"$/);
  const served = await res.json();
  assert.equal(served.silentIntervalSeconds, 180, 'defaults are filled in');
  assert.equal(served.widgets[0].position, 'bottom-right');
  assert.equal(served.widgets[0].rules.afterCloseDays, 30);
  const again = await fetch(`${BASE}/v1/site-config?writeKey=${WRITE_KEY}`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
});

test('a page no widget targets fetches no widget code; a targeted page does', async () => {
  await putConfig({ widgets: [form('only-here', 'popup', { urlInclude: ['/forms-test/only-*'], urlExclude: ['/forms-test/only-not'] })] });
  const { context } = await browser();
  const page = await context.newPage();
  const requested = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  for (const path of ['/forms-test/elsewhere', '/forms-test/only-not']) {
    await open(page, path, false);
    await page.waitForLoadState('networkidle');
    assert.ok(requested.includes('/v1/site-config'));
    assert.ok(!requested.some((p) => p.startsWith('/orbita/widgets')), `no widget code on ${path}: ${requested}`);
  }
  await open(page, '/forms-test/only-here');
  assert.ok(requested.includes('/orbita/widgets_bg.wasm'));
  await waitShown(page, 'only-here');
});

test('delay and idle triggers fire when due and not before (page.clock)', async () => {
  await putConfig({ silentIntervalSeconds: 0, widgets: [
    form('delayed', 'floating', { trigger: 'delay', triggerValue: 60, urlInclude: ['/forms-test/delay'] }),
    form('idle', 'floating', { trigger: 'idle', triggerValue: 30, urlInclude: ['/forms-test/idle'] }),
  ] });
  const { context } = await browser();
  const page = await context.newPage();
  await page.clock.install();
  await open(page, '/forms-test/delay');
  await page.clock.runFor(45_000);
  await staysHidden(page, 'delayed', 200);
  await page.clock.runFor(16_000);
  await waitShown(page, 'delayed');

  await open(page, '/forms-test/idle');
  for (let i = 0; i < 4; i++) { // 100 s of activity: never 30 s idle
    await page.clock.runFor(25_000);
    await page.keyboard.press('Shift');
  }
  await staysHidden(page, 'idle', 200);
  await page.clock.runFor(31_000);
  await waitShown(page, 'idle');
});

test('scroll depth, page count, exit intent and the JS call trigger', async () => {
  await putConfig({ silentIntervalSeconds: 0, widgets: [
    form('scrolled', 'bar', { trigger: 'scroll', triggerValue: 50, urlInclude: ['/forms-test/scroll'] }),
    form('third-page', 'floating', { trigger: 'pages', triggerValue: 3, urlInclude: ['/forms-test/pages*'] }),
    form('leaving', 'popup', { trigger: 'exit', urlInclude: ['/forms-test/exit'] }),
    form('on-call', 'popup', { trigger: 'js', urlInclude: ['/forms-test/call'] }),
  ] });
  const { context } = await browser();
  const page = await context.newPage();
  // Pages are counted in the session wherever the widgets run (a fresh visitor here).
  for (const n of [1, 2]) {
    await open(page, `/forms-test/pages-${n}`);
    await staysHidden(page, 'third-page', 300);
  }
  await open(page, '/forms-test/pages-3');
  await waitShown(page, 'third-page');
  await open(page, '/forms-test/scroll');
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight * 0.25));
  await staysHidden(page, 'scrolled');
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight * 0.5));
  await waitShown(page, 'scrolled');

  await open(page, '/forms-test/exit');
  await page.mouse.move(300, 300);
  await page.evaluate(() => document.body.dispatchEvent(new MouseEvent('mouseout', { bubbles: true, clientY: 250 })));
  await staysHidden(page, 'leaving');
  await page.evaluate(() => document.body.dispatchEvent(new MouseEvent('mouseout', { bubbles: true, clientY: -2 })));
  await waitShown(page, 'leaving');

  await open(page, '/forms-test/call');
  await staysHidden(page, 'on-call');
  await page.evaluate(() => window.orbita('showWidget', 'on-call'));
  await waitShown(page, 'on-call');
});

test('frequency: after close (days), never after submit, and the silent interval hold across reloads', async () => {
  await putConfig({ silentIntervalSeconds: 120, widgets: [
    form('capped', 'floating', { afterCloseDays: 2, urlInclude: ['/forms-test/capped'] }),
    form('first', 'floating', { urlInclude: ['/forms-test/quiet'] }),
    form('second', 'bar', { urlInclude: ['/forms-test/quiet'] }),
    form('once', 'floating', { urlInclude: ['/forms-test/once'] }, { texts: { title: 'Once', button: 'Go' }, fields: [{ name: 'email', type: 'email', label: 'Email' }] }),
  ] });
  const { context } = await browser();
  const page = await context.newPage();
  const start = Date.now();
  await page.clock.install({ time: start });
  await open(page, '/forms-test/capped');
  await waitShown(page, 'capped');
  await closeButton(page, 'capped').click();
  assert.match(await page.evaluate(() => localStorage.getItem('orbita_widgets')), /\|capped,\d+,0,\d+/);
  await page.clock.setSystemTime(start + 1 * DAY);
  await open(page, '/forms-test/capped');
  await staysHidden(page, 'capped');
  await page.clock.setSystemTime(start + 2 * DAY + 60_000);
  await open(page, '/forms-test/capped');
  await waitShown(page, 'capped');

  // Two widgets on one page: the second waits for the silent interval, even after a reload.
  const t1 = start + 10 * DAY;
  await page.clock.setSystemTime(t1);
  await open(page, '/forms-test/quiet');
  await waitShown(page, 'first');
  await staysHidden(page, 'second', 300);
  await closeButton(page, 'first').click();
  await page.clock.setSystemTime(t1 + 60_000);
  await open(page, '/forms-test/quiet');
  await staysHidden(page, 'second');
  await page.clock.setSystemTime(t1 + 121_000);
  await open(page, '/forms-test/quiet');
  await waitShown(page, 'second');

  // Submitted: never again (no afterSubmitDays), however long after.
  await page.clock.setSystemTime(start + 20 * DAY);
  await open(page, '/forms-test/once');
  await waitShown(page, 'once');
  const host = page.locator('[data-orbita-form="once"]');
  await host.locator('css=input[name=email]').fill(`once-${Date.now()}@example.com`);
  await host.locator('css=button.submit').click();
  await eventually(async () => (await host.getAttribute('data-orbita-state')) === 'submitted', 10_000, 'the submission');
  await page.clock.setSystemTime(start + 400 * DAY);
  await open(page, '/forms-test/once');
  await staysHidden(page, 'once');
});

test('segment and cart targeting from the profile summary (GET /v1/visitor), on the next page already', async () => {
  await putConfig({ silentIntervalSeconds: 0, widgets: [
    form('for-customers', 'floating', { segment: 'customer', urlInclude: ['/forms-test/seg-*'] }),
  ] });
  const { context } = await browser();
  const page = await context.newPage();
  await open(page, '/forms-test/seg-1');
  await staysHidden(page, 'for-customers');
  const visitor = await page.evaluate(() => window.orbita.anonymousId());
  const profileOf = async () => (await fetch(`${BASE}/v1/visitor?writeKey=${WRITE_KEY}&anonymousId=${visitor}`)).json();
  assert.deepEqual(await profileOf(), { segments: [], cartValue: null });
  await page.evaluate(() => {
    window.orbita('purchase', { order_id: `o-${Date.now()}`, total: 10, currency: 'EUR', products: [{ product_id: 'LL-1001', quantity: 1, price: 10 }] });
    window.orbita('cart', { products: [{ product_id: 'LL-1002', quantity: 2, price: 60 }] });
    window.orbita('flush');
  });
  // Both events in the profile (the order may be stored a moment before the cart).
  const answer = await eventually(async () => { const p = await profileOf(); return p.segments.includes('customer') && p.cartValue !== null && p; }, 10_000, 'the order and the cart in the profile');
  assert.deepEqual(answer, { segments: ['customer', 'open_cart'], cartValue: 120 });
  // seg-1 fetched the profile before the order: seg-2 must not decide on that stale answer
  // (earlier versions did, and showed the widget one page late), but on its own fresh one.
  const log = [];
  page.on('console', (m) => log.push(`console ${m.type()}: ${m.text()}`));
  page.on('response', async (r) => { if (r.url().includes('/v1/visitor')) log.push(`visitor ${r.status()} ${await r.text().catch(() => '?')} at ${Date.now()}`); });
  page.on('request', (r) => { if (r.url().includes('/v1/')) log.push(`request ${r.url().slice(0, 90)} at ${Date.now()}`); });
  await open(page, '/forms-test/seg-2');
  log.push(`armed at ${Date.now()}`);
  try { await waitShown(page, 'for-customers'); } catch (e) { console.log('DEBUG', JSON.stringify(log, null, 1), await page.evaluate(() => localStorage.getItem('orbita_visitor'))); throw e; }
  assert.equal((await fetch(`${BASE}/v1/visitor?writeKey=${WRITE_KEY}`)).status, 400);
  assert.equal((await fetch(`${BASE}/v1/visitor?anonymousId=${visitor}`)).status, 401);
});

test('without consent to storage the widget memory stays in memory: nothing in localStorage', async () => {
  await putConfig({ widgets: [form('volatile', 'floating', { urlInclude: ['/forms-test/volatile'] })] });
  const { context } = await browser('data-consent="required"');
  const page = await context.newPage();
  await open(page, '/forms-test/volatile');
  await waitShown(page, 'volatile');
  await closeButton(page, 'volatile').click();
  assert.equal(await page.evaluate(() => localStorage.getItem('orbita_widgets')), null);
  await open(page, '/forms-test/volatile');
  await waitShown(page, 'volatile'); // the close was not remembered across the reload
});

test('axe-core finds no violations in any widget kind, open or showing errors', async () => {
  await putConfig({ silentIntervalSeconds: 0, widgets: [
    form('a11y-popup', 'popup', { urlInclude: ['/forms-test/a11y-popup'] }),
    form('a11y-floating', 'floating', { urlInclude: ['/forms-test/a11y-floating'] }),
    form('a11y-bar', 'bar', { urlInclude: ['/forms-test/a11y-bar'] }),
    form('embedded-1', 'embedded', { urlInclude: ['/forms-test/a11y-embedded'] }),
  ] });
  const { context } = await browser();
  const page = await context.newPage();
  for (const kind of ['popup', 'floating', 'bar', 'embedded']) {
    const id = kind === 'embedded' ? 'embedded-1' : `a11y-${kind}`;
    await open(page, `/forms-test/a11y-${kind}`);
    await waitShown(page, id);
    await page.addScriptTag({ path: AXE });
    const check = async (when) => {
      const result = await page.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
      });
      assert.deepEqual(result, [], `${kind} ${when}`);
    };
    await check('open');
    const host = page.locator(`[data-orbita-form="${id}"],[data-orbita-widget="${id}"]`);
    await host.locator('css=button.submit').click(); // empty: errors on the fields
    assert.equal(await host.locator('css=input[name=email]').getAttribute('aria-invalid'), 'true');
    await check('with errors');
  }
});

test('keyboard only: focus moves into the modal, Tab stays inside, Esc closes, focus returns', async () => {
  await putConfig({ widgets: [form('keys', 'popup', { trigger: 'js', urlInclude: ['/forms-test/keys'] })] });
  const { context } = await browser();
  const page = await context.newPage();
  const events = [];
  await page.exposeFunction('__record', (e) => events.push(e));
  await page.addInitScript(() => {
    for (const name of ['orbita:open', 'orbita:close', 'orbita:submit']) {
      document.addEventListener(name, (e) => window.__record({ name, ...e.detail }));
    }
  });
  await open(page, '/forms-test/keys');
  await page.focus('#before');
  await page.keyboard.press('Enter'); // nothing bound: just to be sure the page has keyboard focus
  await page.evaluate(() => document.getElementById('before').focus());
  await page.evaluate(() => window.orbita('showWidget', 'keys'));
  await waitShown(page, 'keys');
  const focused = () => page.evaluate(() => {
    const host = document.activeElement;
    const inner = host?.shadowRoot?.activeElement;
    return { host: host?.getAttribute('data-orbita-form') || host?.id || host?.tagName, inner: inner && (inner.name || inner.className) };
  });
  assert.deepEqual(await focused(), { host: 'keys', inner: 'email' }, 'focus starts on the first field');
  const seen = new Set();
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press('Tab');
    const f = await focused();
    assert.equal(f.host, 'keys', `Tab ${i + 1} stays in the dialog`);
    seen.add(f.inner);
  }
  assert.deepEqual([...seen].sort(), ['consent', 'email', 'firstName', 'submit', 'x'].sort());
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Shift+Tab');
    assert.equal((await focused()).host, 'keys', 'Shift+Tab stays in the dialog');
  }
  await page.keyboard.press('Escape');
  await eventually(() => page.evaluate(() => !document.querySelector('[data-orbita-form="keys"]')), 5_000, 'the dialog to close');
  assert.equal((await focused()).host, 'before', 'focus returns to where it was');
  assert.deepEqual(events.map((e) => e.name), ['orbita:open', 'orbita:close']);
  assert.equal(events[0].widgetId, 'keys');
  assert.equal(events[0].kind, 'popup');
});

test('subscribe: validation at the fields, then contact + consent record + double opt-in event in D1', async () => {
  const consent = 'I agree to receive emails from Lumen & Loom (v2).';
  await putConfig({ widgets: [form('signup', 'popup', { urlInclude: ['/forms-test/signup'] }, {
    doubleOptIn: true,
    texts: { title: 'Join us', button: 'Subscribe', success: 'Check your inbox to confirm.', consent },
    variants: [{ name: 'a', weight: 0 }, { name: 'b', weight: 1, texts: { title: 'Join us (b)' } }],
  })] });
  const { context } = await browser();
  const page = await context.newPage();
  const events = [];
  await page.exposeFunction('__record', (e) => events.push(e));
  await page.addInitScript(() => document.addEventListener('orbita:submit', (e) => window.__record(e.detail)));
  await open(page, '/forms-test/signup');
  await waitShown(page, 'signup');
  const host = page.locator('[data-orbita-form="signup"]');
  assert.equal(await host.locator('css=h2').textContent(), 'Join us (b)', 'variant b (weight 1 of 1)');
  const email = host.locator('css=input[name=email]');
  await email.fill('not-an-email');
  await host.locator('css=button.submit').click();
  assert.equal(await email.getAttribute('aria-invalid'), 'true');
  assert.equal(await email.getAttribute('aria-describedby'), 'e-email');
  assert.match(await host.locator('css=#e-email').textContent(), /email address/);
  assert.match(await host.locator('css=#e-consent').textContent(), /box/);
  const address = `${uniqueId('sub')}@Example.com`;
  await email.fill(address);
  await host.locator('css=input[name=firstName]').fill('<img src=x onerror="window.__pwned=1">');
  await host.locator('css=input[name=consent]').check();
  await host.locator('css=button.submit').click();
  await eventually(async () => (await host.getAttribute('data-orbita-state')) === 'submitted', 10_000, 'the submission');
  assert.equal(await host.locator('css=[role=status]').textContent(), 'Check your inbox to confirm.');
  assert.equal(await email.getAttribute('aria-invalid'), null);
  assert.deepEqual(events, [{ widgetId: 'signup', kind: 'popup', variant: 'b' }]);

  const visitor = await page.evaluate(() => window.orbita.anonymousId());
  const lower = address.toLowerCase();
  const [sub] = d1('SELECT * FROM subscriptions WHERE address = ?', lower);
  assert.equal(sub.status, 'pending');
  assert.equal(sub.channel, 'email');
  assert.equal(sub.widget_id, 'signup');
  assert.equal(JSON.parse(sub.fields).firstName, '<img src=x onerror="window.__pwned=1">');
  const [record] = d1('SELECT * FROM consent_records WHERE profile_id = ?', sub.profile_id);
  assert.equal(record.consent_text, consent);
  assert.equal(record.consent_text_hash, createHash('sha256').update(consent).digest('hex'));
  assert.equal(record.variant, 'b');
  assert.ok(Math.abs(record.granted_at_ms - Date.now()) < 60_000);
  const ids = d1('SELECT kind, value FROM identities WHERE profile_id = ? ORDER BY kind', sub.profile_id);
  assert.deepEqual(ids.map((i) => `${i.kind}:${i.value}`), [`anonymous:${visitor}`, `email:${lower}`]);
  const [event] = d1("SELECT raw, profile_id FROM events WHERE event = 'Subscription Confirmation Requested' AND json_extract(raw, '$.properties.email') = ?", lower);
  assert.equal(event.profile_id, sub.profile_id);
  assert.equal(JSON.parse(event.raw).properties.widget_id, 'signup');
  // The tracker reported the widget's life to the collector, with the variant.
  await page.evaluate(() => window.orbita('flush'));
  const widgetEvents = await eventually(() => {
    const rows = d1("SELECT event, raw FROM events WHERE anonymous_id = ? AND event LIKE 'Widget %'", visitor);
    return rows.length >= 2 && rows;
  }, 10_000, 'the widget events');
  for (const row of widgetEvents) {
    const props = JSON.parse(row.raw).properties;
    assert.deepEqual([props.widget_id, props.widget_kind, props.variant], ['signup', 'popup', 'b']);
  }
  assert.deepEqual(widgetEvents.map((r) => r.event).sort(), ['Widget Shown', 'Widget Submitted']);
});

test('subscribe refuses bad submissions with typed reasons', async () => {
  await putConfig({ widgets: [form('strict', 'embedded', { urlInclude: ['/forms-test/strict'] })] });
  const post = async (body) => {
    const res = await fetch(`${BASE}/v1/subscribe`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ writeKey: WRITE_KEY, widgetId: 'strict', consent: true, ...body }) });
    return { status: res.status, body: await res.json() };
  };
  const cases = [
    [{ fields: { email: 'x@y' } }, 'invalid_field', 'email'],
    [{ fields: {} }, 'missing_field', 'email'],
    [{ fields: { email: 'a@b.io' }, consent: false }, 'consent_required', 'consent'],
    [{ fields: { email: 'a@b.io', shoeSize: '42' } }, 'unknown_field', 'shoeSize'],
    [{ widgetId: 'nope', fields: { email: 'a@b.io' } }, 'unknown_widget', 'widgetId'],
    [{ variant: 'zzz', fields: { email: 'a@b.io' } }, 'unknown_variant', 'variant'],
  ];
  for (const [body, error, field] of cases) {
    const res = await post(body);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.deepEqual([res.body.error, res.body.field], [error, field]);
  }
  assert.equal((await post({ writeKey: 'wrong', fields: { email: 'a@b.io' } })).status, 401);
  const ok = await post({ fields: { email: 'single@b.io' } });
  assert.deepEqual(ok.body, { success: true, status: 'subscribed' });
});

test('hostile configuration text renders as text and runs nothing', async () => {
  const hostile = '<img src=x onerror="window.__pwned=1">';
  await putConfig({ widgets: [form('hostile', 'floating', { urlInclude: ['/forms-test/hostile'] }, {
    texts: { title: hostile, body: hostile, button: hostile, consent: hostile },
    fields: [{ name: 'email', type: 'email', label: hostile }],
  })] });
  const { context } = await browser();
  const page = await context.newPage();
  await open(page, '/forms-test/hostile');
  await waitShown(page, 'hostile');
  const root = await page.evaluate(() => {
    const r = document.querySelector('[data-orbita-form="hostile"]').shadowRoot;
    return { imgs: r.querySelectorAll('img').length, title: r.querySelector('h2').textContent, label: r.querySelector('label').textContent };
  });
  assert.deepEqual(root, { imgs: 0, title: hostile, label: hostile });
  await page.waitForTimeout(300);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
});
