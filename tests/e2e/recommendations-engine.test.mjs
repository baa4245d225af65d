// Recommenders served through placements by the real collector (wrangler dev + D1), over HTTP:
// freshness (a visitor's event changes their next block), the item-to-item tables built by the
// admin refresh and by the cron trigger, filters, placements as data, reasons, A/B variants,
// rotation, guests identified by their cookie.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ADMIN, BASE, WRITE_KEY, d1, postBatch, uniqueId } from './helpers.mjs';

/** GET /v1/recommendations with these parameters (and headers); returns the parsed answer. */
async function reco(params, headers = {}) {
  const res = await fetch(`${BASE}/v1/recommendations?${new URLSearchParams(params)}`, { headers });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/** Sends `track` events of one visitor: [name, properties] pairs, one second apart. */
async function send(visitor, events) {
  const t0 = Date.now() - events.length * 1000;
  const res = await postBatch({
    writeKey: WRITE_KEY,
    sentAt: new Date().toISOString(),
    batch: events.map(([event, properties], i) => ({
      type: 'track', event, anonymousId: visitor, messageId: uniqueId('m'),
      timestamp: new Date(t0 + i * 1000).toISOString(), properties,
    })),
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.accepted, events.length, res.text);
}

const view = (id, price) => ['Product Viewed', { product_id: id, price }];
const order = (...ids) => ['Order Completed', { order_id: uniqueId('o'), total: 10, currency: 'EUR', products: ids.map((id) => ({ product_id: id, quantity: 1 })) }];
const cart = (...ids) => ['Cart Updated', { products: ids.map((id) => ({ product_id: id, quantity: 1 })) }];

async function putPlacement(name, config, headers = ADMIN) {
  const res = await fetch(`${BASE}/v1/admin/placements/${name}`, {
    method: 'PUT', headers: { ...headers, 'content-type': 'application/json' },
    body: typeof config === 'string' ? config : JSON.stringify(config),
  });
  return { status: res.status, body: await res.json() };
}

async function refresh(full = false) {
  const res = await fetch(`${BASE}/v1/admin/neighbours/refresh${full ? '?full=1' : ''}`, { method: 'POST', headers: ADMIN });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

test("a visitor's product view shifts their home block in the very next request", async () => {
  const visitor = randomUUID();
  const before = await reco({ placement: 'home', limit: 6, anonymousId: visitor });
  assert.equal(before.items.length, 6);
  assert.ok(before.items.every((i) => !/price range you look at/.test(i.reason)), 'no band before browsing');
  // One view of a 249 EUR lamp: the price band is [249, 249]; 2 of 6 items come from near it.
  const sentAt = Date.now();
  await send(visitor, [view('LL-1033', 249)]);
  const after = await reco({ placement: 'home', limit: 6, anonymousId: visitor });
  const tookMs = Date.now() - sentAt;
  assert.ok(tookMs < 1000, `event to changed block in ${tookMs} ms`);
  assert.notDeepEqual(after.items.map((i) => i.id), before.items.map((i) => i.id));
  const inBand = after.items.filter((i) => /price range you look at/.test(i.reason));
  assert.ok(inBand.length >= 2, JSON.stringify(after.items));
  assert.ok(inBand.every((i) => i.price >= 100), `items near 249 EUR: ${inBand.map((i) => i.price)}`);
  // Another visitor's block did not move.
  const other = await reco({ placement: 'home', limit: 6, anonymousId: randomUUID() });
  assert.ok(other.items.every((i) => !/price range/.test(i.reason)));
});

test('the admin refresh builds the co-viewed table and "similar" answers from it', async () => {
  // Four visitors view a teapot (Coffee & Tea) and a garden product together.
  for (let i = 0; i < 4; i++) await send(uniqueId('coview'), [view('LL-1013', 34.9), view('LL-1037', 34)]);
  const done = await refresh();
  assert.equal(done.computed, true, JSON.stringify(done));
  assert.ok(done.rows > 0 && done.written > 0, JSON.stringify(done));
  const stored = d1("SELECT neighbours FROM product_neighbours WHERE site_id = 'demo' AND relation = 'co_viewed' AND product_id = 'LL-1013'");
  assert.equal(stored.length, 1);
  assert.ok(JSON.parse(stored[0].neighbours).some(([id]) => id === 'LL-1037'), stored[0].neighbours);
  const block = await reco({ placement: 'product', product: 'LL-1013', limit: 8 });
  const garden = block.items.find((i) => i.id === 'LL-1037');
  assert.ok(garden, `co-viewed product recommended: ${JSON.stringify(block.items)}`);
  assert.equal(garden.recommender, 'similar');
  assert.match(garden.reason, /viewed .* also viewed it/);
  assert.ok(!block.items.some((i) => i.id === 'LL-1013'), 'never the product itself');
  // Nothing new since: the next refresh computes nothing; ?full=1 recomputes and rewrites no row.
  assert.equal((await refresh()).computed, false);
  const again = await refresh(true);
  assert.equal(again.computed, true);
  assert.equal(again.written, 0, 'unchanged rows are not rewritten');
});

test('the cron trigger refreshes the tables (wrangler dev /cdn-cgi/handler/scheduled)', async () => {
  for (let i = 0; i < 3; i++) await send(uniqueId('cron'), [view('LL-1038', 29), view('LL-1014', 42)]);
  const fired = await fetch(`${BASE}/cdn-cgi/handler/scheduled?cron=*/10+*+*+*+*`);
  assert.equal(fired.status, 200, await fired.text());
  const row = d1("SELECT neighbours FROM product_neighbours WHERE site_id = 'demo' AND relation = 'co_viewed' AND product_id = 'LL-1038'");
  assert.equal(row.length, 1, 'the scheduled handler stored the row');
  assert.ok(JSON.parse(row[0].neighbours).some(([id]) => id === 'LL-1014'));
  const block = await reco({ placement: 'product', product: 'LL-1038', limit: 8 });
  assert.ok(block.items.some((i) => i.id === 'LL-1014' && i.recommender === 'similar'), JSON.stringify(block.items));
});

test('bought together and personal use the tables; a guest is known by the cookie alone', async () => {
  for (let i = 0; i < 3; i++) await send(uniqueId('basket'), [cart('LL-1046', 'LL-1047'), order('LL-1046', 'LL-1047')]);
  await refresh();
  const cartBlock = await reco({ placement: 'cart', cart: 'LL-1046', limit: 6 });
  const towel = cartBlock.items.find((i) => i.id === 'LL-1047');
  assert.ok(towel, JSON.stringify(cartBlock.items));
  assert.equal(towel.recommender, 'bought_together');
  assert.match(towel.reason, /^bought together with /);
  // A guest (cookie only, as the widgets' same-origin fetch sends it) who viewed LL-1046.
  const guest = randomUUID();
  await send(guest, [view('LL-1046', 32)]);
  const cookie = { cookie: `orb_aid=${guest}` };
  const home = await reco({ placement: 'home', limit: 6 }, cookie);
  const personal = home.items.find((i) => i.id === 'LL-1047');
  assert.ok(personal, JSON.stringify(home.items));
  assert.equal(personal.recommender, 'personal');
  assert.match(personal.reason, /because you were interested in /);
  const lost = await reco({ placement: '404', limit: 3 }, cookie);
  assert.equal(lost.items[0].id, 'LL-1046');
  assert.equal(lost.items[0].reason, 'you viewed it recently');
});

test('filters: bought and carted products are never re-shown, sold-out ones never shown', async () => {
  const put = await putPlacement('e2e-filters', { chain: [{ recommender: 'bestsellers' }] });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  // Three buyers make LL-1054, LL-1053 and the sold-out LL-1041 bestsellers.
  for (let i = 0; i < 3; i++) await send(uniqueId('buyer'), [order('LL-1054', 'LL-1053', 'LL-1041')]);
  const stranger = await reco({ placement: 'e2e-filters', limit: 24, anonymousId: randomUUID() });
  const ids = (b) => b.items.map((i) => i.id);
  assert.ok(ids(stranger).includes('LL-1054') && ids(stranger).includes('LL-1053'), ids(stranger).join());
  assert.ok(!ids(stranger).includes('LL-1041') && !ids(stranger).includes('LL-1016'), 'sold out');
  const buyer = randomUUID();
  await send(buyer, [order('LL-1054'), cart('LL-1053')]);
  const mine = await reco({ placement: 'e2e-filters', limit: 24, anonymousId: buyer });
  assert.equal(mine.items.length, 24);
  assert.ok(!ids(mine).includes('LL-1054'), 'bought: never re-shown');
  assert.ok(!ids(mine).includes('LL-1053'), 'in the cart: left out');
  // Turning the filters off in the placement brings them back.
  await putPlacement('e2e-filters', { chain: [{ recommender: 'bestsellers' }], filters: { excludePurchased: false, excludeCart: false } });
  const unfiltered = await reco({ placement: 'e2e-filters', limit: 24, anonymousId: buyer });
  assert.ok(ids(unfiltered).includes('LL-1054') && ids(unfiltered).includes('LL-1053'));
  // inStock off: the sold-out bestseller LL-1041 may be shown.
  await putPlacement('e2e-filters', { chain: [{ recommender: 'bestsellers' }], filters: { inStock: false } });
  assert.ok(ids(await reco({ placement: 'e2e-filters', limit: 24 })).includes('LL-1041'));
  // The page of a sold-out product still gets its similar products (its category), never itself.
  const page = await reco({ placement: 'product', product: 'LL-1016', limit: 6 });
  assert.equal(page.items[0].recommender, 'similar', JSON.stringify(page.items));
  assert.match(page.items[0].reason, /Glass Cold Brew Bottle/, 'named after the sold-out product');
  assert.ok(!ids(page).includes('LL-1016') && !ids(page).includes('LL-1041'));
});

test('placements configured over the admin endpoint change the answer; bad ones get typed 400s', async () => {
  const first = await reco({ placement: 'e2e-shelf', limit: 3 });
  assert.notEqual(first.recommender, 'new_arrivals');
  const put = await putPlacement('e2e-shelf', { chain: [{ recommender: 'new_arrivals' }] });
  assert.equal(put.status, 200);
  const shelf = await reco({ placement: 'e2e-shelf', limit: 3 });
  assert.equal(shelf.recommender, 'new_arrivals');
  // All demo products arrived with the one feed import: the later in the feed, the newer.
  assert.deepEqual(shelf.items.map((i) => i.id), ['LL-1054', 'LL-1053', 'LL-1052']);
  assert.ok(shelf.items.every((i) => i.reason === 'new arrival'));
  await putPlacement('e2e-shelf', { chain: [{ recommender: 'bestsellers' }], filters: { category: 'Lighting', maxPrice: 60 } });
  const lamps = await reco({ placement: 'e2e-shelf', limit: 10 });
  const lighting = ['LL-1029', 'LL-1031', 'LL-1032', 'LL-1034', 'LL-1036'];
  assert.deepEqual(lamps.items.map((i) => i.id).sort(), lighting, 'only lamps up to 60 EUR');
  const list = await (await fetch(`${BASE}/v1/admin/placements`, { headers: ADMIN })).json();
  const names = list.placements.map((p) => p.name);
  for (const n of ['home', 'category', 'product', 'cart', 'thank-you', '404', 'email', 'e2e-shelf']) assert.ok(names.includes(n), n);
  assert.equal(list.placements.find((p) => p.name === 'e2e-shelf').default, false);
  assert.equal(list.placements.find((p) => p.name === 'home').default, true);
  for (const [config, says] of [
    ['{"chain":[]}', /1 to 8/],
    ['{"chain":[{"recommender":"magic"}]}', /unknown variant/],
    ['{"chain":[{"recommender":"similar"}],"filters":{"minPrice":9,"maxPrice":1}}', /above/],
    ['not json', /expected/],
  ]) {
    const bad = await putPlacement('e2e-shelf', config);
    assert.equal(bad.status, 400, config);
    assert.equal(bad.body.error, 'invalid_placement');
    assert.match(bad.body.message, says);
  }
  assert.equal((await putPlacement('Bad Name', { chain: [{ recommender: 'similar' }] })).status, 400);
  assert.equal((await putPlacement('e2e-shelf', { chain: [{ recommender: 'similar' }] }, {})).status, 401);
  const res = await fetch(`${BASE}/v1/recommendations?placement=${encodeURIComponent('<b>')}`);
  assert.equal(res.status, 400);
  const del = await fetch(`${BASE}/v1/admin/placements/e2e-shelf`, { method: 'DELETE', headers: ADMIN });
  assert.equal((await del.json()).default, true);
  assert.notEqual((await reco({ placement: 'e2e-shelf', limit: 3 })).recommender, 'new_arrivals');
});

test('every item of every default placement has a reason and a recommender', async () => {
  const visitor = randomUUID();
  await send(visitor, [view('LL-1001', 54.9), view('LL-1019', 149), cart('LL-1019')]);
  for (const [placement, extra] of [
    ['home', {}], ['category', { category: 'Kitchen' }], ['product', { product: 'LL-1001' }],
    ['cart', { cart: 'LL-1019' }], ['thank-you', {}], ['404', {}], ['email', {}],
  ]) {
    const block = await reco({ placement, limit: 8, anonymousId: visitor, ...extra });
    assert.equal(block.items.length, 8, placement);
    assert.match(block.recommId, /^r-[0-9a-f]{24}$/);
    assert.equal(block.placement, placement);
    for (const item of block.items) {
      assert.ok(item.reason.length > 5, `${placement}: ${JSON.stringify(item)}`);
      assert.ok(item.recommender, `${placement}: ${JSON.stringify(item)}`);
    }
    assert.equal(new Set(block.items.map((i) => i.id)).size, 8, `${placement}: no repeats`);
    if (placement === 'category') assert.ok(block.items.slice(0, 5).every((i) => /^LL-100\d$/.test(i.id)), JSON.stringify(block.items));
  }
});

test('the A/B variant is stable per visitor, named in the answer, and both are served', async () => {
  const put = await putPlacement('e2e-ab', { chain: [{ recommender: 'bestsellers' }], variants: [
    { name: 'fresh', weight: 1, chain: [{ recommender: 'new_arrivals' }] },
    { name: 'best', weight: 1, chain: [{ recommender: 'bestsellers' }] },
  ] });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const seen = new Set();
  for (let i = 0; i < 16; i++) {
    const visitor = randomUUID();
    const a = await reco({ placement: 'e2e-ab', limit: 3, anonymousId: visitor });
    const b = await reco({ placement: 'e2e-ab', limit: 3, anonymousId: visitor });
    assert.ok(['fresh', 'best'].includes(a.variant), JSON.stringify(a));
    assert.equal(b.variant, a.variant, 'same visitor, same variant');
    assert.equal(a.recommender, a.variant === 'fresh' ? 'new_arrivals' : 'bestsellers');
    seen.add(a.variant);
  }
  assert.equal(seen.size, 2, 'both variants served');
  assert.equal((await reco({ placement: 'home', limit: 3 })).variant, undefined, 'no variant outside a test');
});

test('items the visitor was shown rotate down', async () => {
  await putPlacement('e2e-rotation', { chain: [{ recommender: 'bestsellers' }], rotation: 0.01 });
  const visitor = randomUUID();
  const first = await reco({ placement: 'e2e-rotation', limit: 6, anonymousId: visitor });
  const shown = first.items.slice(0, 3).map((i) => i.id);
  await send(visitor, [['Recommendation Block Viewed', { recomm_id: first.recommId, placement: 'e2e-rotation', product_ids: shown }]]);
  const next = await reco({ placement: 'e2e-rotation', limit: 6, anonymousId: visitor });
  assert.ok(!shown.includes(next.items[0].id), `${shown} rotated out of the top: ${next.items.map((i) => i.id)}`);
  assert.deepEqual(next.items.slice(0, 3).map((i) => i.id), first.items.slice(3, 6).map((i) => i.id));
});
