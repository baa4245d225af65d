// Recommendation blocks: engine over stored events and the catalogue, drawn by the widgets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, WRITE_KEY, launch, eventually, postBatch, uniqueId, watchLayoutShifts } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Product titles from the shop's public feed, decoded from XML. */
async function catalogueTitles() {
  const xml = await (await fetch(`${BASE}/feed.xml`)).text();
  const decode = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  return new Set([...xml.matchAll(/<g:title>([^<]*)<\/g:title>/g)].map((m) => decode(m[1])));
}

test('the home page block shows product cards from the catalogue, without shifting the page', async () => {
  const titles = await catalogueTitles();
  assert.ok(titles.size >= 50);
  const page = await browser.context.newPage();
  await watchLayoutShifts(page);
  await page.goto(`${BASE}/`);
  const host = page.locator('[data-orbita-placement="home"]');
  await eventually(async () => (await host.getAttribute('data-orbita-state')) === 'shown', 15_000, 'the block to be drawn');
  const cards = await host.evaluate((el) => [...el.shadowRoot.querySelectorAll('li')].map((li) => ({
    name: li.querySelector('.name').textContent,
    price: li.querySelector('.price').textContent,
    href: li.querySelector('a').getAttribute('href'),
    img: li.querySelector('img').getAttribute('src'),
  })));
  assert.equal(cards.length, 8);
  for (const card of cards) {
    assert.ok(titles.has(card.name), `${card.name} is in the catalogue`);
    assert.match(card.price, /\d/);
    assert.match(card.href, /\/p\/LL-\d+$/);
    assert.match(card.img, /\/img\/LL-\d+\.svg$/);
  }
  const box = await host.boundingBox();
  assert.ok(box.height >= 300, 'the placeholder keeps its reserved height');
  const shifts = await page.evaluate(() => window.__shifts.reduce((a, b) => a + b, 0));
  assert.equal(shifts, 0, 'drawing the block caused no layout shift');
  await page.close();
});

test('bestsellers follow what visitors buy; sold-out products are never recommended', async () => {
  // Five different visitors buy LL-1050: purchases weigh most, so it must rank first (the
  // other test files buy at most 4 units of any one product: recommendations-engine.test.mjs).
  for (let i = 0; i < 5; i++) {
    const visitor = uniqueId('buyer');
    const res = await postBatch({ writeKey: WRITE_KEY, batch: [{
      type: 'track', event: 'Order Completed', anonymousId: visitor, messageId: uniqueId('order'),
      properties: { order_id: uniqueId('o'), total: 16.5, currency: 'EUR', products: [{ product_id: 'LL-1050', quantity: 1, price: 16.5 }] },
    }] });
    assert.equal(res.body.accepted, 1);
  }
  const block = await (await fetch(`${BASE}/v1/recommendations?placement=home&limit=5`)).json();
  assert.equal(block.items.length, 5);
  assert.equal(block.items[0].id, 'LL-1050');
  assert.match(block.items[0].reason, /bought 5 times/);
  assert.match(block.recommId, /^r-[0-9a-f]{24}$/);
  const all = await (await fetch(`${BASE}/v1/recommendations?limit=24`)).json();
  const ids = all.items.map((i) => i.id);
  assert.ok(!ids.includes('LL-1016') && !ids.includes('LL-1041'), 'sold-out products are left out');
  const bad = await fetch(`${BASE}/v1/recommendations?limit=1000`);
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error, 'invalid_limit');
});

test('a product page block leaves out the product being viewed', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${BASE}/p/LL-1050`);
  const host = page.locator('[data-orbita-placement="product"]');
  await eventually(async () => (await host.getAttribute('data-orbita-state')) === 'shown', 15_000, 'the block');
  const hrefs = await host.evaluate((el) => [...el.shadowRoot.querySelectorAll('a')].map((a) => a.getAttribute('href')));
  assert.equal(hrefs.length, 8);
  assert.ok(!hrefs.some((h) => h.endsWith('/p/LL-1050')), `LL-1050 is not recommended on its own page: ${hrefs}`);
  await page.close();
});

test('the widgets module is fetched only on pages with a placeholder', async () => {
  const page = await browser.context.newPage();
  const requested = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await page.goto(`${BASE}/thank-you`);
  await eventually(() => requested.includes('/orbita/tracker_bg.wasm'), 10_000, 'the tracker to load');
  await page.waitForLoadState('networkidle');
  assert.ok(!requested.some((p) => p.startsWith('/orbita/widgets')), `no widget code on a page without placeholders: ${requested}`);
  assert.ok(!requested.some((p) => p.startsWith('/orbita/yespo')), 'the Yespo layer only loads with data-yespo="on"');
  requested.length = 0;
  await page.goto(`${BASE}/cart`);
  await eventually(() => requested.includes('/orbita/widgets_bg.wasm'), 10_000, 'the widgets to load where needed');
  await page.close();
});
