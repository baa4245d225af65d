// What the collector's per-isolate cache of the catalogue, counts, placements and neighbour
// rows must never hide: a feed import changes blocks at once, an order counts in bestsellers at
// once, and the refresh that folds orders into the stored counts counts each buyer once.
// Test products use their own IDs and categories and are sold out at the end, so the blocks of
// other test files show only the demo catalogue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, BASE, WRITE_KEY, d1, postBatch, uniqueId } from './helpers.mjs';

const HEADER = 'id,title,price,currency,category,availability,link';
/** CSV rows of test products: [id, category, availability]. */
const rows = (...products) => [HEADER, ...products.map(([id, category, availability]) =>
  `${id},Test ${id},5,EUR,${category},${availability},/p/${id}`)].join('\n');

async function importCsv(csv) {
  const res = await fetch(`${BASE}/v1/admin/catalogue?mode=partial`, {
    method: 'POST', headers: { ...ADMIN, 'content-type': 'text/csv' }, body: csv,
  });
  assert.equal(res.status, 200, await res.text());
}

async function putPlacement(name, config) {
  const res = await fetch(`${BASE}/v1/admin/placements/${name}`, {
    method: 'PUT', headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify(config),
  });
  assert.equal(res.status, 200, await res.text());
}

async function block(placement) {
  const res = await fetch(`${BASE}/v1/recommendations?placement=${placement}&limit=12`);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.items;
}

async function buy(visitor, product) {
  const res = await postBatch({ writeKey: WRITE_KEY, batch: [{
    type: 'track', event: 'Order Completed', anonymousId: visitor, messageId: uniqueId('m'),
    properties: { order_id: uniqueId('o'), total: 5, currency: 'EUR', products: [{ product_id: product, quantity: 1 }] },
  }] });
  assert.equal(res.body.accepted, 1, res.text);
}

/**
 * Two in-stock test products of their own category (IDs `<prefix>-1`, `-2`) and a placement of
 * `recommender` over that category; returns their IDs and category.
 */
async function ownProducts(prefix, placement, recommender) {
  const p = uniqueId(prefix);
  const category = `${prefix[0].toUpperCase()}${prefix.slice(1)} ${p}`;
  const [one, two] = [`${p}-1`, `${p}-2`];
  await importCsv(rows([one, category, 'in stock'], [two, category, 'in stock']));
  await putPlacement(placement, { chain: [{ recommender }], filters: { category } });
  return { one, two, category };
}

test('a feed import marking a product sold out removes it from blocks at once, and back in stock brings it back', async () => {
  const { one, two, category } = await ownProducts('fresh', 'e2e-fresh-stock', 'new_arrivals');
  const ids = async () => (await block('e2e-fresh-stock')).map((i) => i.id).sort();
  assert.deepEqual(await ids(), [one, two]);
  await importCsv(rows([one, category, 'out of stock']));
  assert.deepEqual(await ids(), [two], 'sold out: gone from the very next block');
  // Its own page while sold out, and once back in stock: never in its own block.
  const ownPage = async () => {
    const res = await fetch(`${BASE}/v1/recommendations?placement=product&product=${one}&limit=12`);
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(body.items.length > 0 && !body.items.some((i) => i.id === one), JSON.stringify(body.items));
  };
  await ownPage();
  await importCsv(rows([one, category, 'in stock']));
  assert.deepEqual(await ids(), [one, two], 'back in stock');
  await ownPage();
  await importCsv(rows([one, category, 'out of stock'], [two, category, 'out of stock']));
  assert.deepEqual(await ids(), []);
});

test('an order counts in bestsellers at once; the refresh folds it into the stored counts, each buyer once', async () => {
  const { one, two, category } = await ownProducts('best', 'e2e-fresh-best', 'bestsellers');
  const reasonOf = async (id) => (await block('e2e-fresh-best')).find((i) => i.id === id)?.reason;
  assert.doesNotMatch(await reasonOf(one), /bought/);
  const [ann, bob] = [uniqueId('ann'), uniqueId('bob')];
  await buy(ann, one);
  await buy(bob, one);
  await buy(ann, one); // the same buyer again the same day: still two buyers
  assert.equal(await reasonOf(one), 'bestseller: bought 2 times');
  const res = await fetch(`${BASE}/v1/admin/neighbours/refresh`, { method: 'POST', headers: ADMIN });
  const refreshed = await res.json();
  assert.equal(refreshed.popularity.computed, true, JSON.stringify(refreshed));
  const stored = d1("SELECT SUM(visitors) AS n FROM product_interactions WHERE product_id = ? AND kind = 'purchase'", one);
  assert.equal(stored[0].n, 2, 'folded: two distinct buyers');
  assert.equal(await reasonOf(one), 'bestseller: bought 2 times', 'read back from the fold, not counted twice');
  await buy(uniqueId('cy'), one);
  assert.equal(await reasonOf(one), 'bestseller: bought 3 times', 'an order after the fold counts at once');
  assert.equal((await block('e2e-fresh-best'))[0].id, one);
  // A second fold the same day reads only the events since the first (plus a margin) and
  // recounts the day from its sightings: ann buying again still counts once.
  await buy(ann, one);
  const again = await (await fetch(`${BASE}/v1/admin/neighbours/refresh`, { method: 'POST', headers: ADMIN })).json();
  assert.equal(again.popularity.computed, true, JSON.stringify(again));
  const sightings = d1("SELECT COUNT(*) AS n FROM interaction_sightings WHERE product_id = ? AND kind = 'purchase'", one);
  assert.equal(sightings[0].n, 3, 'ann, bob and cy, each once');
  const refolded = d1("SELECT SUM(visitors) AS n FROM product_interactions WHERE product_id = ? AND kind = 'purchase'", one);
  assert.equal(refolded[0].n, 3, 'refolded: three distinct buyers');
  assert.equal(await reasonOf(one), 'bestseller: bought 3 times', 'read back from the second fold');
  await importCsv(rows([one, category, 'out of stock'], [two, category, 'out of stock']));
});
