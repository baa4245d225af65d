// Migration from eSputnik/Yespo: the documented eS('sendEvent', ...) shapes keep working with
// data-yespo="on" and become Orbita's events. One case per shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, d1, eventually, anonymousIdCookie, trackerLoaded } from './helpers.mjs';

const cases = [
  { shape: 'PageView', call: ['sendEvent', 'PageView', { PageView: {} }], type: 'page', check: () => {} },
  { shape: 'MainPage', call: ['sendEvent', 'MainPage'], event: 'Main Page Viewed', check: () => {} },
  { shape: 'NotFound', call: ['sendEvent', 'NotFound'], event: 'Not Found Viewed', check: () => {} },
  { shape: 'StatusCartPage', call: ['sendEvent', 'StatusCartPage'], event: 'Cart Viewed', check: () => {} },
  {
    shape: 'ProductPage', call: ['sendEvent', 'ProductPage', { ProductPage: { productKey: 'LL-1040', price: '49.90', isInStock: 1 } }],
    event: 'Product Viewed', check: (p) => { assert.equal(p.product_id, 'LL-1040'); assert.equal(p.price, 49.9); assert.equal(p.in_stock, true); },
  },
  {
    shape: 'StatusCart', call: ['sendEvent', 'StatusCart', { StatusCart: [{ productKey: 'LL-1041', price: '19.90', quantity: 2, currency: 'EUR' }, { productKey: 'LL-1042', price: 5, quantity: 1 }], GUID: 'cart-guid-1' }],
    event: 'Cart Updated', check: (p) => {
      assert.deepEqual(p.products.map((l) => [l.product_id, l.quantity]), [['LL-1041', 2], ['LL-1042', 1]]);
      assert.equal(p.value, 44.8); assert.equal(p.currency, 'EUR'); assert.equal(p.cart_id, 'cart-guid-1');
    },
  },
  {
    shape: 'PurchasedItems', call: ['sendEvent', 'PurchasedItems', { OrderNumber: 'Y-1001', PurchasedItems: [{ productKey: 'LL-1043', price: '12.50', quantity: 2, currency: 'EUR' }], GUID: 'cart-guid-1' }],
    event: 'Order Completed', check: (p) => { assert.equal(p.order_id, 'Y-1001'); assert.equal(p.total, 25); assert.equal(p.products[0].product_id, 'LL-1043'); },
  },
  {
    shape: 'CategoryPage', call: ['sendEvent', 'CategoryPage', { CategoryPage: { categoryKey: 'Kitchen' } }],
    event: 'Product List Viewed', check: (p) => assert.equal(p.category, 'Kitchen'),
  },
  {
    shape: 'AddToWishlist', call: ['sendEvent', 'AddToWishlist', { AddToWishlist: { productKey: 'LL-1044', price: '7.90', isInStock: 1 } }],
    event: 'Product Added to Wishlist', check: (p) => { assert.equal(p.product_id, 'LL-1044'); assert.equal(p.price, 7.9); },
  },
  {
    shape: 'SearchRequest', call: ['sendEvent', 'SearchRequest', { SearchRequest: { search: 'linen duvet', isFound: 1 } }],
    event: 'Products Searched', check: (p) => { assert.equal(p.query, 'linen duvet'); assert.equal(p.found, true); },
  },
];

test(`Yespo's eS() shapes: ${cases.length} of them, plus CustomerData and GeneralInfo`, async (t) => {
  const browser = await launch();
  try {
    const page = await browser.context.newPage();
    await page.route(`${BASE}/cart`, async (route) => {
      const original = await route.fetch();
      const html = (await original.text()).replace('data-write-key=', 'data-yespo="on" data-write-key=');
      await route.fulfill({ response: original, body: html });
    });
    // The shop's existing snippet: a queue, and a call made before the tracker loads.
    await page.addInitScript(() => {
      window.eS = function () { (window.eS.q = window.eS.q || []).push(arguments); };
      window.eS('sendEvent', 'CustomerData', { CustomerData: { externalCustomerId: 'yespo-42', user_email: 'Yespo.Customer@example.com', user_name: 'Olena' } });
    });
    await page.goto(`${BASE}/cart`);
    await trackerLoaded(page);
    const { value: visitor } = await eventually(() => anonymousIdCookie(browser.context), 10_000, 'the cookie');
    const rows = () => d1('SELECT type, event, user_id, raw FROM events WHERE anonymous_id = ?', visitor).map((r) => ({ ...r, json: JSON.parse(r.raw) }));

    await t.test('CustomerData (queued before load) identifies the customer', async () => {
      const identify = await eventually(() => rows().find((r) => r.type === 'identify'), 10_000, 'identify');
      assert.equal(identify.json.userId, 'yespo-42');
      assert.equal(identify.json.traits.email, 'Yespo.Customer@example.com');
      assert.equal(identify.json.traits.name, 'Olena');
    });

    for (const c of cases) {
      await t.test(c.shape, async () => {
        const before = rows().length;
        await page.evaluate((args) => window.eS(...args), c.call);
        await page.evaluate(() => window.orbita('flush'));
        const found = await eventually(() => rows().slice(0).reverse().find((r, i, all) => all.length > before
          && (c.type ? r.type === c.type && r.json.context.page : r.event === c.event)), 10_000, c.shape);
        c.check(found.json.properties ?? {});
        assert.equal(found.user_id, 'yespo-42', 'later events carry the customer');
      });
    }

    await t.test('GeneralInfo in any event identifies too', async () => {
      await page.evaluate(() => window.eS('sendEvent', 'MainPage', { GeneralInfo: { externalCustomerId: 'yespo-43' } }));
      await page.evaluate(() => window.orbita('flush'));
      await eventually(() => rows().some((r) => r.event === 'Main Page Viewed' && r.user_id === 'yespo-43'), 10_000, 'the new customer');
    });
  } finally {
    await browser.close();
  }
});
