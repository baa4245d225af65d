// The profile summary from GET /v1/profiles: computed from stored events, current at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WRITE_KEY, postBatch, profile, uniqueId } from './helpers.mjs';

test('a profile sums up views, cart changes, orders, price band and traits, and reflects a new event at once', async () => {
  const visitor = uniqueId('visitor');
  const t0 = Date.now() - 60_000;
  const at = (s) => new Date(t0 + s * 1000).toISOString();
  const track = (event, s, properties) => ({ type: 'track', event, anonymousId: visitor, messageId: uniqueId('m'), timestamp: at(s), properties });
  // sentAt lets the collector correct the client clock: event times keep their order.
  const sent = await postBatch({
    writeKey: WRITE_KEY,
    sentAt: new Date().toISOString(),
    batch: [
      track('Product Viewed', 1, { product_id: 'LL-1001', price: 20, category: 'Kitchen' }),
      track('Product Viewed', 2, { product_id: 'LL-1002', price: 40, category: 'Kitchen' }),
      track('Product Viewed', 3, { product_id: 'LL-1003', price: 60, category: 'Bath' }),
      track('Cart Updated', 4, { products: [{ product_id: 'LL-1002', quantity: 1, price: 40 }] }),
      track('Cart Updated', 5, { products: [{ product_id: 'LL-1002', quantity: 1, price: 40 }, { product_id: 'LL-1003', quantity: 2, price: 60 }] }),
      track('Cart Updated', 6, { products: [{ product_id: 'LL-1003', quantity: 2, price: 60 }], value: 120 }),
      { type: 'identify', anonymousId: visitor, messageId: uniqueId('m'), timestamp: at(7), traits: { firstName: 'Ana', plan: 'gold' } },
    ],
  });
  assert.equal(sent.status, 200, sent.text);
  assert.equal(sent.body.accepted, 7);
  const first = await profile({ anonymousId: visitor });
  assert.equal(first.status, 200);
  const s = first.body.summary;
  assert.deepEqual(s.viewedProducts.map((p) => p.productId), ['LL-1003', 'LL-1002', 'LL-1001']);
  assert.deepEqual(s.viewedCategories, { Kitchen: 2, Bath: 1 });
  assert.deepEqual(s.priceBand, { low: 30, median: 40, high: 50, views: 3 });
  assert.deepEqual(s.cart.lines, [{ productId: 'LL-1003', quantity: 2, price: 60 }]);
  assert.equal(s.cart.value, 120);
  assert.deepEqual(s.cart.changes.map((c) => [c.event, c.productId, c.quantity]), [
    ['Product Added', 'LL-1002', 1], ['Product Added', 'LL-1003', 2], ['Product Removed', 'LL-1002', 1],
  ]);
  assert.deepEqual(s.attributes, { firstName: 'Ana', plan: 'gold' });
  assert.deepEqual(s.rfm, { recencyDays: null, frequency: 0, monetary: 0, currency: null });

  // One more event: the very next read shows it.
  const order = await postBatch({ writeKey: WRITE_KEY, sentAt: new Date().toISOString(), batch: [track('Order Completed', 8, { order_id: 'O-77', total: 120, currency: 'EUR', products: [{ product_id: 'LL-1003', quantity: 2 }] })] });
  assert.equal(order.body.accepted, 1);
  const after = (await profile({ anonymousId: visitor })).body.summary;
  assert.deepEqual(after.rfm, { recencyDays: 0, frequency: 1, monetary: 120, currency: 'EUR' });
  assert.deepEqual(after.orders, ['O-77']);
  assert.deepEqual(after.purchasedProducts, ['LL-1003']);
  assert.deepEqual(after.cart.lines, [], 'the order emptied the cart');
});
