// Browser → wasm tracker → collector on workerd → D1, in real headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, d1, eventually, anonymousIdCookie } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const eventsOf = (anonymousId) =>
  d1('SELECT message_id, type, event, raw, timestamp_ms, sent_at_ms FROM events WHERE anonymous_id = ? ORDER BY received_at_ms, timestamp_ms', anonymousId);

test('a product page view is stored in D1 with the product, a unique messageId and client times', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${BASE}/p/LL-1003`);
  const cookie = await eventually(() => anonymousIdCookie(browser.context), 10_000, 'the orb_aid cookie');
  assert.match(cookie.value, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(cookie.sameSite, 'Lax');
  assert.ok(cookie.expires * 1000 > Date.now() + 300 * 24 * 3600 * 1000, 'long-lived cookie');

  const rows = await eventually(() => {
    const rows = eventsOf(cookie.value);
    return rows.some((r) => r.event === 'Product Viewed') && rows.some((r) => r.type === 'page') && rows;
  }, 10_000, 'page view and product view in D1');
  const view = JSON.parse(rows.find((r) => r.event === 'Product Viewed').raw);
  assert.equal(view.properties.source, 'json-ld', 'the demo page has no product-view call: zero-code');
  assert.equal(view.properties.name, 'Carbon Steel Wok 32 cm');
  assert.equal(view.properties.price, 48.5);
  assert.equal(view.properties.currency, 'EUR');
  // Playwright drives a headless browser: stored, and flagged as automated.
  assert.equal(view.context.webdriver, true);
  assert.ok(d1('SELECT bot FROM events WHERE anonymous_id = ?', cookie.value).every((r) => r.bot === 1));
  assert.equal(view.properties.product_id, 'LL-1003');
  assert.equal(view.anonymousId, cookie.value);
  assert.equal(view.context.page.path, '/p/LL-1003');
  assert.equal(view.context.library.name, 'orbita-tracker');
  const ids = rows.map((r) => r.message_id);
  assert.equal(new Set(ids).size, ids.length, 'messageIds are unique');
  for (const r of rows) {
    assert.ok(Math.abs(r.timestamp_ms - Date.now()) < 120_000, 'client timestamp is now-ish');
    assert.ok(r.sent_at_ms >= r.timestamp_ms, 'sentAt is not before the event');
  }
  await page.close();
});

test('adding to cart stores the whole cart snapshot; the visitor keeps one ID across pages', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${BASE}/p/LL-1012`);
  await page.click('[data-add-to-cart]');
  await page.goto(`${BASE}/p/LL-1020`);
  await page.click('[data-add-to-cart]');
  await page.click('[data-add-to-cart]');
  const { value: visitor } = await anonymousIdCookie(browser.context);
  const snapshot = await eventually(() => {
    const carts = eventsOf(visitor).filter((r) => r.event === 'Cart Updated').map((r) => JSON.parse(r.raw));
    return carts.find((c) => c.properties.products.some((l) => l.product_id === 'LL-1020' && l.quantity === 2));
  }, 10_000, 'a cart snapshot with two of LL-1020');
  const lines = Object.fromEntries(snapshot.properties.products.map((l) => [l.product_id, l.quantity]));
  assert.equal(lines['LL-1012'], 1, 'the snapshot holds the whole cart, not only the change');
  assert.equal(lines['LL-1020'], 2);
  assert.equal(snapshot.properties.currency, 'EUR');
  const views = eventsOf(visitor).filter((r) => r.event === 'Product Viewed').map((r) => JSON.parse(r.raw).properties.product_id);
  assert.ok(views.includes('LL-1012') && views.includes('LL-1020'), 'both views stored under the same visitor');
  await page.close();
});

test('calls made before the tracker loads are queued and delivered', async () => {
  const context = browser.context;
  const page = await context.newPage();
  const marker = `queued-${Date.now()}`;
  // Runs before any page script: the shop's queue snippet plus an early call.
  await page.addInitScript((m) => {
    window.orbita = window.orbita || function () { (window.orbita.q = window.orbita.q || []).push(arguments); };
    window.orbita('track', 'Newsletter Viewed', { marker: m });
  }, marker);
  await page.goto(`${BASE}/cart`);
  const row = await eventually(
    () => d1("SELECT raw FROM events WHERE event = 'Newsletter Viewed' AND json_extract(raw, '$.properties.marker') = ?", marker)[0],
    10_000, 'the queued event in D1');
  assert.equal(JSON.parse(row.raw).type, 'track');
  await page.close();
});

test('an order on the thank-you page is stored as Order Completed', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${BASE}/p/LL-1030`);
  await page.click('[data-add-to-cart]');
  await page.goto(`${BASE}/cart`);
  await page.click('#checkout');
  await page.waitForURL('**/thank-you');
  const orderId = await page.textContent('#order-id');
  const row = await eventually(
    () => d1("SELECT raw FROM events WHERE event = 'Order Completed' AND json_extract(raw, '$.properties.order_id') = ?", orderId)[0],
    10_000, 'the order in D1');
  const order = JSON.parse(row.raw).properties;
  assert.ok(order.products.some((l) => l.product_id === 'LL-1030'), 'the ordered product is in the order');
  assert.ok(order.total > 0);
  // Reloading the thank-you page must not report the order twice.
  await page.reload();
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(d1("SELECT COUNT(*) AS n FROM events WHERE event = 'Order Completed' AND json_extract(raw, '$.properties.order_id') = ?", orderId)[0].n, 1);
  await page.close();
});
