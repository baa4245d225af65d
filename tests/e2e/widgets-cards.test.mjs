// Recommendation blocks in Chromium: a hostile product name from the feed renders as text and
// runs nothing; the impression is reported once half the block is visible (not before), with the
// products shown; clicks keep the block's recommId; the carousel's buttons are reachable and work
// from the keyboard; the block causes no layout shift; a block asks for what its page is about
// (the product, the category, the cart). (Runs after recommendations.test.mjs: it makes its own
// product the bestseller, and retires it at the end.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, BASE, WRITE_KEY, launch, d1, eventually, postBatch, uniqueId, watchLayoutShifts } from './helpers.mjs';

const HOSTILE = '<img src=x onerror=alert(1)>';
const productId = uniqueId('xss');

async function importProducts(products) {
  const res = await fetch(`${BASE}/v1/admin/catalogue?mode=partial`, {
    method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify({ products }),
  });
  assert.equal(res.status, 200, await res.text());
}

const hostileProduct = (available) => ({
  id: productId, title: HOSTILE, price: 9, currency: 'EUR', category: 'Test', available,
  image: '/img/LL-1001.svg', url: '/p/LL-1001', brand: null,
});

let browser;
before(async () => {
  browser = await launch();
  await importProducts([hostileProduct(true)]);
  // Twenty buyers make it the bestseller, so the home block shows it first.
  for (let i = 0; i < 20; i++) {
    const res = await postBatch({ writeKey: WRITE_KEY, batch: [{
      type: 'track', event: 'Order Completed', anonymousId: uniqueId('xss-buyer'), messageId: uniqueId('xss-order'),
      properties: { order_id: uniqueId('o'), total: 9, currency: 'EUR', products: [{ product_id: productId, quantity: 1, price: 9 }] },
    }] });
    assert.equal(res.body.accepted, 1);
  }
});
after(async () => {
  await importProducts([hostileProduct(false)]);
  await browser?.close();
});

const events = (anonymousId, name) => d1(
  "SELECT json_extract(raw, '$.properties') AS p FROM events WHERE anonymous_id = ? AND event = ?", anonymousId, name,
).map((r) => JSON.parse(r.p));

test('a narrow screen: text stays text, one impression when visible, keyboard carousel, clicks keep recommId, no shift', async () => {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 375, height: 640 });
  const dialogs = [];
  const requests = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  page.on('request', (r) => requests.push(r.url()));
  await watchLayoutShifts(page);
  const answered = page.waitForResponse((r) => r.url().includes('/v1/recommendations?placement=home&'));
  await page.goto(`${BASE}/`);
  const host = page.locator('[data-orbita-placement="home"]');
  await eventually(async () => (await host.getAttribute('data-orbita-state')) === 'shown', 15_000, 'the block');
  const served = await (await answered).json();
  const recommId = await host.getAttribute('data-orbita-recomm-id');
  const anonymousId = await page.evaluate(() => window.orbita.anonymousId());

  // The hostile name is a card's text, and no element was made from any name.
  const drawn = await host.evaluate((el) => {
    const names = [...el.shadowRoot.querySelectorAll('li .name')];
    return {
      texts: names.map((n) => n.textContent), children: names.reduce((a, n) => a + n.childElementCount, 0),
      imgs: el.shadowRoot.querySelectorAll('img').length, cards: el.shadowRoot.querySelectorAll('li').length,
    };
  });
  assert.ok(drawn.texts.includes(HOSTILE), `the bestseller is shown: ${drawn.texts}`);
  assert.deepEqual(drawn.texts, served.items.map((i) => i.title), 'the cards are the answer, in order');
  assert.equal(drawn.children, 0);
  assert.equal(drawn.imgs, drawn.cards, 'one image per card, none from the name');
  assert.equal(await page.evaluate(() => window.__shifts.reduce((a, b) => a + b, 0)), 0, 'no layout shift');

  // Below the fold on this screen: no impression yet.
  const top = await host.evaluate((el) => el.getBoundingClientRect().top);
  assert.ok(top > 640, `the block starts below the fold (${top}px)`);
  await page.waitForTimeout(1500);
  await page.evaluate(() => window.orbita('flush'));
  await page.waitForTimeout(500);
  assert.deepEqual(events(anonymousId, 'Recommendation Block Viewed'), [], 'no impression before it is visible');

  await host.evaluate((el) => el.scrollIntoView({ block: 'center' }));
  const [viewed] = await eventually(() => {
    const rows = events(anonymousId, 'Recommendation Block Viewed');
    return rows.length && rows;
  }, 10_000, 'the impression');
  // The products shown, in order: the engine's rotation counts them for this visitor.
  assert.deepEqual(viewed, { recomm_id: recommId, placement: 'home', product_ids: served.items.map((i) => i.id) });
  assert.ok(viewed.product_ids.includes(productId));
  // Scrolling away and back does not count it again.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300);
  await host.evaluate((el) => el.scrollIntoView({ block: 'center' }));
  await page.waitForTimeout(800);
  await page.evaluate(() => window.orbita('flush'));
  await page.waitForTimeout(500);
  assert.equal(events(anonymousId, 'Recommendation Block Viewed').length, 1);

  // Keyboard: Tab reaches the "next" button; Enter scrolls the row; "previous" scrolls back.
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  const focused = () => host.evaluate((el) => el.shadowRoot.activeElement?.getAttribute('aria-label') ?? null);
  let label = null;
  for (let i = 0; i < 300 && label !== 'Next products'; i++) {
    await page.keyboard.press('Tab');
    label = await focused();
  }
  assert.equal(label, 'Next products', 'the next button is in the tab order');
  const scrollLeft = () => host.evaluate((el) => el.shadowRoot.querySelector('ul').scrollLeft);
  assert.equal(await scrollLeft(), 0);
  await page.keyboard.press('Enter');
  await eventually(async () => (await scrollLeft()) > 100, 5_000, 'the row to scroll forward');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await focused(), 'Previous products');
  await page.keyboard.press('Enter');
  await eventually(async () => (await scrollLeft()) === 0, 5_000, 'the row to scroll back');

  // A click on a card keeps the block's recommId (sent from the outbox, even across navigation).
  await host.evaluate((el) => el.shadowRoot.querySelector('li:nth-child(2) a').click());
  const [clicked] = await eventually(() => {
    const rows = events(anonymousId, 'Product Clicked');
    return rows.length && rows;
  }, 10_000, 'the click event');
  assert.equal(clicked.recomm_id, recommId);
  assert.equal(clicked.placement, 'home');
  assert.match(String(clicked.product_id), /./);

  assert.deepEqual(dialogs, [], 'nothing ran alert()');
  assert.ok(!requests.some((u) => u === `${BASE}/x`), 'the hostile <img src=x> was never loaded');
  await page.close();
});

test('the block reserves its height: drawing it shifts nothing (narrow screen)', async () => {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 375, height: 900 });
  await watchLayoutShifts(page);
  await page.goto(`${BASE}/p/LL-1002`);
  const host = page.locator('[data-orbita-placement="product"]');
  await eventually(async () => (await host.getAttribute('data-orbita-state')) === 'shown', 15_000, 'the block');
  const imgs = await host.evaluate((el) => [...el.shadowRoot.querySelectorAll('img')].map((i) => [i.loading, i.getAttribute('width'), i.getAttribute('height')]));
  assert.ok(imgs.length > 0);
  for (const img of imgs) assert.deepEqual(img, ['lazy', '158', '150']);
  await host.evaluate((el) => el.scrollIntoView({ block: 'center' }));
  await page.waitForTimeout(500);
  assert.equal(await page.evaluate(() => window.__shifts.reduce((a, b) => a + b, 0)), 0);
  await page.close();
});

test('a block asks for what its page is about: the product, the category, the cart', async () => {
  const page = await browser.context.newPage();
  const asked = async (placement, path) => {
    const request = page.waitForRequest((r) => r.url().includes(`/v1/recommendations?placement=${placement}&`));
    await page.goto(`${BASE}${path}`);
    const host = page.locator(`[data-orbita-placement="${placement}"]`);
    await eventually(async () => (await host.getAttribute('data-orbita-state')) === 'shown', 15_000, `the ${placement} block`);
    const hrefs = await host.evaluate((el) => [...el.shadowRoot.querySelectorAll('a')].map((a) => a.getAttribute('href')));
    return { params: new URL((await request).url()).searchParams, hrefs };
  };

  // A product page: its placeholder's data-orbita-product.
  let { params } = await asked('product', '/p/LL-1002');
  assert.equal(params.get('product'), 'LL-1002');

  // Without the attribute, the product of the page's schema.org JSON-LD (as the tracker reads it).
  const productPage = await (await fetch(`${BASE}/p/LL-1002`)).text();
  assert.ok(productPage.includes(' data-orbita-product="LL-1002"'));
  await page.route(`${BASE}/ld-only/p`, (route) => route.fulfill({
    status: 200, contentType: 'text/html', body: productPage.replace(' data-orbita-product="LL-1002"', ''),
  }));
  ({ params } = await asked('product', '/ld-only/p'));
  assert.equal(params.get('product'), 'LL-1002');

  // A category page: the category it lists.
  ({ params } = await asked('category', '/c/lighting/'));
  const category = await page.locator('h1').textContent();
  assert.equal(params.get('category'), category);

  // The cart page: the products of the cart the shop's script draws (data-orbita-cart). The
  // bestseller in the cart is left out of the block; without the cart it would lead it.
  const line = (id) => ({ id, name: id, price: 9, quantity: 1, image: '/img/LL-1001.svg', url: '/p/LL-1001' });
  await page.evaluate((lines) => localStorage.setItem('lumen-cart', JSON.stringify(lines)), [line(productId), line('LL-1003')]);
  const { params: cartParams, hrefs } = await asked('cart', '/cart');
  assert.equal(cartParams.get('cart'), `${productId},LL-1003`);
  assert.ok(!hrefs.some((h) => h.endsWith('/p/LL-1003')), `the cart's products are not recommended: ${hrefs}`);
  const withoutCart = await (await fetch(`${BASE}/v1/recommendations?placement=cart&limit=8`)).json();
  assert.equal(withoutCart.items[0].id, productId, 'the bestseller leads the block of an empty cart');
  const names = await page.locator('[data-orbita-placement="cart"]').evaluate((el) => [...el.shadowRoot.querySelectorAll('.name')].map((n) => n.textContent));
  assert.ok(!names.includes(HOSTILE), `the bestseller in the cart is left out: ${names}`);
  await page.close();
});
