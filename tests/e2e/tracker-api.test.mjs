// The tracker's API in real Chromium: SPA page views, identify/reset, JSON-LD precedence.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, d1, eventually, anonymousIdCookie, trackerLoaded } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const rowsOf = (anonymousId) => d1('SELECT type, event, user_id, raw FROM events WHERE anonymous_id = ? ORDER BY timestamp_ms', anonymousId);
const pathsOf = (rows) => rows.filter((r) => r.type === 'page').map((r) => JSON.parse(r.raw).context.page.path);

test('single-page apps: one page view per navigation, none for repeats or fragments', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${BASE}/thank-you`);
  const { value: visitor } = await eventually(() => anonymousIdCookie(browser.context), 10_000, 'the cookie');
  await trackerLoaded(page);
  await page.evaluate(() => {
    history.pushState({}, '', '/spa/step-1');
    history.pushState({}, '', '/spa/step-1');   // same address: not a new page view
    history.replaceState({}, '', '/spa/step-1'); // same again
    location.hash = '#details';                  // fragment only: not a page view
    history.pushState({}, '', '/spa/step-2');
  });
  await page.goBack(); // popstate to /spa/step-1#details
  await page.evaluate(() => window.orbita('flush'));
  const paths = await eventually(() => { const p = pathsOf(rowsOf(visitor)); return p.length >= 4 && p; }, 10_000, 'four page views');
  await new Promise((r) => setTimeout(r, 800));
  assert.deepEqual(pathsOf(rowsOf(visitor)), ['/thank-you', '/spa/step-1', '/spa/step-2', '/spa/step-1']);
  assert.equal(paths.length, 4);
  await page.close();
});

test('hash routing (data-hash-routing="on"): one page view per new #/route', async () => {
  const page = await browser.context.newPage();
  await page.route(`${BASE}/thank-you`, async (route) => {
    const original = await route.fetch();
    const html = (await original.text()).replace('data-write-key=', 'data-hash-routing="on" data-write-key=');
    await route.fulfill({ response: original, body: html });
  });
  const since = Date.now(); // the browser context (and visitor) is shared with the other tests
  await page.goto(`${BASE}/thank-you#/welcome`);
  await trackerLoaded(page);
  const visitor = await page.evaluate(() => window.orbita.anonymousId());
  await page.evaluate(() => { location.hash = '#/products/LL-1003'; });
  await page.waitForFunction(() => location.hash === '#/products/LL-1003');
  await page.evaluate(() => { location.hash = '#/products/LL-1003'; }); // same route: nothing
  await page.evaluate(() => { location.hash = '#/cart'; });
  await page.goBack(); // back to #/products/LL-1003
  await page.waitForFunction(() => location.hash === '#/products/LL-1003');
  await page.evaluate(() => window.orbita('flush'));
  const urlsOf = () => rowsOf(visitor).map((r) => JSON.parse(r.raw))
    .filter((e) => e.type === 'page' && Date.parse(e.timestamp) >= since)
    .map((e) => new URL(e.context.page.url).hash);
  await eventually(() => urlsOf().length >= 4, 10_000, 'four page views');
  await new Promise((r) => setTimeout(r, 800));
  assert.deepEqual(urlsOf(), ['#/welcome', '#/products/LL-1003', '#/cart', '#/products/LL-1003']);
  await page.close();
});

test('identify sends who the visitor is and tags later events; reset forgets them and starts a new visitor', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${BASE}/cart`);
  await trackerLoaded(page);
  const { value: before } = await anonymousIdCookie(browser.context);
  const customer = `crm-${Date.now()}`;
  await page.evaluate((c) => {
    window.orbita('identify', c, { email: 'spa.customer@example.com', name: 'Ana' });
    window.orbita('track', 'Wishlist Viewed', {});
    window.orbita('wishlistAdded', { product_id: 'LL-1009' });
    window.orbita('checkout', { value: 54.9, currency: 'EUR' });
  }, customer);
  const identified = await eventually(() => {
    const rows = rowsOf(before);
    return rows.some((r) => r.type === 'identify') && rows.some((r) => r.event === 'Wishlist Viewed') && rows;
  }, 10_000, 'identify and the next event');
  const identify = JSON.parse(identified.find((r) => r.type === 'identify').raw);
  assert.equal(identify.userId, customer);
  assert.equal(identify.traits.email, 'spa.customer@example.com');
  assert.equal(identified.find((r) => r.event === 'Wishlist Viewed').user_id, customer);
  const more = await eventually(() => {
    const rows = rowsOf(before);
    return rows.some((r) => r.event === 'Checkout Started') && rows;
  }, 10_000, 'checkout and wishlist');
  assert.equal(JSON.parse(more.find((r) => r.event === 'Product Added to Wishlist').raw).properties.product_id, 'LL-1009');

  // The customer ID survives a reload (page views now carry it).
  await page.reload();
  await eventually(() => rowsOf(before).some((r) => r.type === 'page' && r.user_id === customer), 10_000, 'a page view with the customer ID');

  await page.evaluate(() => { window.orbita('reset'); window.orbita('track', 'Logged Out', {}); });
  const { value: after } = await anonymousIdCookie(browser.context);
  assert.notEqual(after, before, 'a new anonymous visitor after logout');
  const loggedOut = await eventually(() => d1("SELECT user_id, anonymous_id FROM events WHERE event = 'Logged Out' AND anonymous_id = ?", after)[0], 10_000, 'the event after reset');
  assert.equal(loggedOut.user_id, null);
  await page.close();
});

test("a shop's own product-view call wins over the page's JSON-LD: one product view per page", async () => {
  const page = await browser.context.newPage();
  await page.addInitScript(() => {
    window.orbita = window.orbita || function () { (window.orbita.q = window.orbita.q || []).push(arguments); };
    window.orbita('productViewed', { product_id: 'LL-1007', variant: 'explicit' });
  });
  await page.goto(`${BASE}/p/LL-1007`);
  const { value: visitor } = await eventually(() => anonymousIdCookie(browser.context), 10_000, 'the cookie');
  await eventually(() => rowsOf(visitor).some((r) => r.event === 'Product Viewed' && JSON.parse(r.raw).properties.variant === 'explicit'), 10_000, 'the explicit view');
  await page.waitForLoadState('networkidle');
  await page.evaluate(() => window.orbita('flush'));
  await new Promise((r) => setTimeout(r, 800));
  const views = rowsOf(visitor).filter((r) => r.event === 'Product Viewed' && JSON.parse(r.raw).properties.product_id === 'LL-1007');
  assert.equal(views.length, 1);
  await page.close();
});

test('a session starts with its campaign (UTM, referrer, landing page); its events carry the session ID and a sequence', async () => {
  const fresh = await launch();
  try {
    const page = await fresh.context.newPage();
    await page.goto(`${BASE}/?utm_source=newsletter&utm_medium=email&utm_campaign=black-friday`);
    await trackerLoaded(page);
    await page.goto(`${BASE}/cart`);
    const { value: visitor } = await anonymousIdCookie(fresh.context);
    const events = await eventually(() => {
      const pages = rowsOf(visitor).filter((r) => r.type === 'page').map((r) => JSON.parse(r.raw));
      return pages.length >= 2 && pages;
    }, 10_000, 'two page views');
    const [landing, next] = events.sort((a, b) => a.context.session.seq - b.context.session.seq);
    assert.deepEqual(
      { source: landing.context.campaign.source, medium: landing.context.campaign.medium, name: landing.context.campaign.name },
      { source: 'newsletter', medium: 'email', name: 'black-friday' });
    assert.match(landing.context.campaign.landingPage, /utm_source=newsletter/);
    assert.equal(landing.context.session.started, true);
    assert.equal(next.context.session.id, landing.context.session.id, 'one session across pages');
    assert.ok(next.context.session.seq > landing.context.session.seq, 'sequence numbers grow');
    assert.equal(next.context.session.started, false);
    assert.equal(next.context.campaign.source, 'newsletter', 'the campaign stays with the session');
    const cookie = (await fresh.context.cookies(BASE)).find((c) => c.name === 'orb_ses');
    assert.ok(cookie.value.startsWith(landing.context.session.id));
  } finally {
    await fresh.close();
  }
});
