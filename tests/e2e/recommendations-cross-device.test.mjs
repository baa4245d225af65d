// Recommendations follow a customer across devices (real collector, wrangler dev + D1): once a
// login ties the phone to the customer's profile, the phone's blocks read the laptop's history
// too (recently viewed, purchases never re-shown), and /v1/visitor's targeting does the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WRITE_KEY, BASE, ADMIN, postBatch, uniqueId } from './helpers.mjs';

/** Sends events (messageId and timestamp added), one millisecond apart, in one batch. */
async function post(...events) {
  const t0 = Date.now() - events.length;
  const res = await postBatch({
    writeKey: WRITE_KEY,
    sentAt: new Date().toISOString(),
    batch: events.map((e, i) => ({ messageId: uniqueId('m'), timestamp: new Date(t0 + i).toISOString(), ...e })),
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.accepted, events.length, res.text);
}

const track = (anonymousId, event, properties) => ({ type: 'track', anonymousId, event, properties });
const view = (visitor, id) => track(visitor, 'Product Viewed', { product_id: id, price: 45 });
const order = (visitor, ...ids) => track(visitor, 'Order Completed', {
  order_id: uniqueId('o'), total: 10, currency: 'EUR', products: ids.map((id) => ({ product_id: id, quantity: 1 })),
});

async function reco(params) {
  const res = await fetch(`${BASE}/v1/recommendations?${new URLSearchParams(params)}`);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

const ids = (block) => block.items.map((i) => i.id);

test("after a login on the phone, its blocks know what the customer viewed and bought on the laptop", async () => {
  // A placement of bestsellers only, with the default filters (bought products left out).
  const put = await fetch(`${BASE}/v1/admin/placements/e2e-cross-device`, {
    method: 'PUT', headers: { ...ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ chain: [{ recommender: 'bestsellers' }] }),
  });
  assert.equal(put.status, 200, await put.text());
  // Three other buyers make LL-1052 a bestseller.
  for (let i = 0; i < 3; i++) await post(order(uniqueId('buyer'), 'LL-1052'));
  const [laptop, phone] = [randomUUID(), randomUUID()];
  const user = uniqueId('customer');
  await post({ type: 'identify', anonymousId: laptop, userId: user }, view(laptop, 'LL-1023'), order(laptop, 'LL-1052'));
  await post({ type: 'page', anonymousId: phone, properties: { path: '/' } });
  // Before the login the phone is a stranger: the bestseller is offered, nothing was viewed.
  const strangerBlock = await reco({ placement: 'e2e-cross-device', limit: 24, anonymousId: phone });
  assert.ok(ids(strangerBlock).includes('LL-1052'), ids(strangerBlock).join());
  const strangerLost = await reco({ placement: '404', limit: 3, anonymousId: phone });
  assert.ok(strangerLost.items.every((i) => i.reason !== 'you viewed it recently'), JSON.stringify(strangerLost.items));
  // The customer logs in on the phone: its profile is merged with the laptop's.
  await post({ type: 'identify', anonymousId: phone, userId: user });
  const block = await reco({ placement: 'e2e-cross-device', limit: 24, anonymousId: phone });
  assert.equal(block.items.length, 24);
  assert.ok(!ids(block).includes('LL-1052'), `bought on the laptop, offered on the phone: ${ids(block).join()}`);
  const lost = await reco({ placement: '404', limit: 3, anonymousId: phone });
  assert.equal(lost.items[0].id, 'LL-1023', JSON.stringify(lost.items));
  assert.equal(lost.items[0].reason, 'you viewed it recently');
  // The laptop sees the same customer; a third browser that never logged in does not.
  assert.ok(!ids(await reco({ placement: 'e2e-cross-device', limit: 24, anonymousId: laptop })).includes('LL-1052'));
  assert.ok(ids(await reco({ placement: 'e2e-cross-device', limit: 24, anonymousId: randomUUID() })).includes('LL-1052'));
  // The widgets' targeting reads the same profile: the phone is a customer now.
  const visitor = await fetch(`${BASE}/v1/visitor?writeKey=${WRITE_KEY}&anonymousId=${phone}`);
  const answer = await visitor.json();
  assert.equal(visitor.status, 200, JSON.stringify(answer));
  assert.ok(answer.segments.includes('customer'), JSON.stringify(answer));
});
