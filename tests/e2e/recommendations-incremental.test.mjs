// The item-to-item refresh keeps its model incrementally (issue #6): a refresh applies only the
// visitors whose products changed to the stored pair sums and norms (migration 0011) and
// recomputes the rows they reach. Checked against the real collector (wrangler dev + D1):
// rows computed by hand from what the test's own visitors did, and everything the incremental
// refreshes stored and served equal to what a full rebuild from the raw events stores and serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, BASE, WRITE_KEY, d1, postBatch, profile, uniqueId } from './helpers.mjs';

async function refresh(full = false) {
  const res = await fetch(`${BASE}/v1/admin/neighbours/refresh${full ? '?full=1' : ''}`, { method: 'POST', headers: ADMIN });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/** Sends `track` events of one visitor: [name, properties] pairs. */
async function send(visitor, events) {
  const res = await postBatch({
    writeKey: WRITE_KEY,
    batch: events.map(([event, properties]) => ({ type: 'track', event, anonymousId: visitor, messageId: uniqueId('m'), properties })),
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.accepted, events.length, res.text);
}

const view = (id) => ['Product Viewed', { product_id: id, price: 10 }];
const cart = (...ids) => ['Cart Updated', { products: ids.map((id) => ({ product_id: id, quantity: 1 })) }];
const order = (...ids) => ['Order Completed', { order_id: uniqueId('o'), total: 10, currency: 'EUR', products: ids.map((id) => ({ product_id: id, quantity: 1 })) }];

/**
 * The co-occurrence rows computed here, independently of the collector: visitors' sets
 * (product → strongest weight), cosine with damping 0.5, 30 neighbours, 4 decimals; ties by ID.
 */
function model(sets, buyingOnly) {
  const together = new Map();
  const norm = new Map();
  for (const all of sets) {
    const set = [...all].filter(([, w]) => !buyingOnly || w >= 3);
    if (set.length === 0) continue;
    const f = set.length ** -0.5;
    for (const [i, wi] of set) {
      norm.set(i, (norm.get(i) ?? 0) + wi * wi * f);
      for (const [j, wj] of set) {
        if (i === j) continue;
        if (!together.has(i)) together.set(i, new Map());
        together.get(i).set(j, (together.get(i).get(j) ?? 0) + wi * wj * f);
      }
    }
  }
  const rows = {};
  for (const [i, row] of together) {
    rows[i] = [...row].map(([j, t]) => [j, t / Math.sqrt(norm.get(i) * norm.get(j))])
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 30).map(([j, s]) => [j, Math.round(s * 1e4) / 1e4]);
  }
  return rows;
}

/** The stored rows of `products` in `relation`, by product. */
function storedRows(relation, products) {
  const out = {};
  for (const r of d1(`SELECT product_id, neighbours FROM product_neighbours WHERE site_id = 'demo' AND relation = ? AND product_id IN (${products.map(() => '?').join(',')})`, relation, ...products)) {
    out[r.product_id] = JSON.parse(r.neighbours);
  }
  return out;
}

/** Everything the tables and the incremental state hold for the demo site. */
function snapshot() {
  const all = (sql) => d1(sql);
  return {
    rows: all("SELECT relation, product_id, neighbours FROM product_neighbours WHERE site_id = 'demo' ORDER BY relation, product_id"),
    visits: all("SELECT visitor, product_id, weight, last_ms FROM neighbour_visits WHERE site_id = 'demo' ORDER BY visitor, product_id, weight"),
    pairs: all("SELECT relation, product_id, other_id, together, visitors FROM neighbour_pairs WHERE site_id = 'demo' ORDER BY relation, product_id, other_id"),
    norms: all("SELECT relation, product_id, norm, visitors FROM neighbour_norms WHERE site_id = 'demo' ORDER BY relation, product_id"),
  };
}

/** The sums equal (to float rounding) with the same keys and visitor counts. */
function assertSumsEqual(got, want, field, what) {
  assert.equal(got.length, want.length, `${what}: ${got.length} vs ${want.length} rows`);
  got.forEach((g, i) => {
    const w = want[i];
    assert.deepEqual({ ...g, [field]: 0 }, { ...w, [field]: 0 }, what);
    assert.ok(Math.abs(g[field] - w[field]) <= 1e-9 * Math.max(1, Math.abs(w[field])), `${what}: ${JSON.stringify(g)} vs ${JSON.stringify(w)}`);
  });
}

async function served(product) {
  const res = await fetch(`${BASE}/v1/recommendations?${new URLSearchParams({ placement: 'product', product, limit: 8 })}`);
  assert.equal(res.status, 200);
  return (await res.json()).items.map((i) => [i.id, i.recommender, i.reason]);
}

test('incremental refreshes store and serve what a full rebuild does, and a refresh with nothing new computes nothing', async () => {
  // Whatever ran before: after this refresh the state exists (a full one if it did not).
  await refresh();
  const idle = await refresh();
  assert.deepEqual([idle.computed, idle.mode, idle.written, idle.visitorsChanged], [false, 'incremental', 0, 0], JSON.stringify(idle));

  const p = (n) => `inc-${n}-${uniqueId('p')}`;
  const [a, b, c, d, e] = [p('a'), p('b'), p('c'), p('d'), p('e')];
  const mine = [a, b, c, d, e];
  const visitors = { x: uniqueId('inc-x'), y: uniqueId('inc-y'), z: uniqueId('inc-z'), w: uniqueId('inc-w') };
  // Round 1: x views a, b, c; y views a, b and carts d; z buys a and d.
  await send(visitors.x, [view(a), view(b), view(c)]);
  await send(visitors.y, [view(a), view(b), cart(d)]);
  await send(visitors.z, [order(a, d)]);
  const sets = {
    x: new Map([[a, 1], [b, 1], [c, 1]]),
    y: new Map([[a, 1], [b, 1], [d, 3]]),
    z: new Map([[a, 10], [d, 10]]),
  };
  const one = await refresh();
  assert.equal(one.mode, 'incremental', JSON.stringify(one));
  assert.equal(one.computed, true);
  assert.equal(one.visitorsChanged, 3, JSON.stringify(one));
  assert.equal(one.productsRecomputed, 4 + 2, 'co-viewed a, b, c, d; bought together a, d');
  assert.deepEqual(storedRows('co_viewed', mine), model(Object.values(sets), false));
  assert.deepEqual(storedRows('bought_together', mine), model(Object.values(sets), true));

  // Round 2: a new visitor w views b, c, e; x views e and buys b (a stronger weight for b);
  // another visitor views two demo products, whose served block is compared below.
  await send(visitors.w, [view(b), view(c), view(e)]);
  await send(visitors.x, [view(e), order(b)]);
  await send(uniqueId('inc-demo'), [view('LL-1013'), view('LL-1021'), view('LL-1030')]);
  sets.w = new Map([[b, 1], [c, 1], [e, 1]]);
  sets.x = new Map([[a, 1], [b, 10], [c, 1], [e, 1]]);
  const two = await refresh();
  assert.equal(two.mode, 'incremental', JSON.stringify(two));
  assert.equal(two.visitorsChanged, 3, JSON.stringify(two));
  assert.ok(two.written >= 5, JSON.stringify(two));
  const coViewed = model(Object.values(sets), false);
  assert.deepEqual(storedRows('co_viewed', mine), coViewed);
  assert.deepEqual(storedRows('bought_together', mine), model(Object.values(sets), true));
  assert.deepEqual(coViewed[e].map(([id]) => id).sort(), [a, b, c].sort(), 'e is new in the table');

  const incremental = snapshot();
  const block = await served('LL-1013');
  assert.ok(block.length > 0);
  assert.ok(incremental.visits.some((v) => v.product_id === b && v.weight === 10), "x's purchase of b is in the state");

  const full = await refresh(true);
  assert.equal(full.mode, 'full', JSON.stringify(full));
  assert.equal(full.computed, true);
  assert.equal(full.written, 0, `a full rebuild changes no row the incremental refreshes wrote: ${JSON.stringify(full)}`);
  assert.equal(full.deleted, 0, JSON.stringify(full));
  assert.equal(full.rows, two.rows, 'the incremental row count is the real one');
  const rebuilt = snapshot();
  assert.deepEqual(incremental.rows, rebuilt.rows);
  assert.deepEqual(incremental.visits, rebuilt.visits);
  assertSumsEqual(incremental.pairs, rebuilt.pairs, 'together', 'pair sums');
  assertSumsEqual(incremental.norms, rebuilt.norms, 'norm', 'norms');
  assert.deepEqual(await served('LL-1013'), block);

  const after = await refresh();
  assert.deepEqual([after.computed, after.written, after.visitorsChanged, after.productsRecomputed], [false, 0, 0, 0], JSON.stringify(after));
});

test("an erasure drops the incremental state: the next refresh is a full one without the visitor", async () => {
  const p = (n) => `era-${n}-${uniqueId('p')}`;
  const [a, b, c] = [p('a'), p('b'), p('c')];
  const [keep, gone] = [uniqueId('era-keep'), uniqueId('era-gone')];
  await send(keep, [view(a), view(b)]);
  await send(gone, [view(a), view(c)]);
  await refresh();
  assert.ok(storedRows('co_viewed', [a])[a].some(([id]) => id === c), 'c is a neighbour of a while the visitor exists');
  const { body } = await profile({ anonymousId: gone });
  const erased = await fetch(`${BASE}/v1/profiles/${body.profileId}`, { method: 'DELETE', headers: ADMIN });
  assert.equal(erased.status, 200);
  assert.equal(d1("SELECT COUNT(*) AS n FROM neighbour_state WHERE site_id = 'demo'")[0].n, 0, 'state dropped');
  assert.equal(d1("SELECT COUNT(*) AS n FROM neighbour_visits WHERE site_id = 'demo' AND visitor = ?", body.profileId)[0].n, 0);
  const next = await refresh();
  assert.equal(next.mode, 'full', JSON.stringify(next));
  assert.deepEqual(storedRows('co_viewed', [a, b, c]), model([new Map([[a, 1], [b, 1]])], false));
});

test('refreshes started together never run at once: the others are told one is running, and the tables stay whole', async () => {
  for (let i = 0; i < 20; i++) await send(uniqueId('rush'), [view(`LL-${1001 + i}`), view(`LL-${1021 + i}`)]);
  // Eight full rebuilds asked at the same moment (each takes a few ms and several D1 round
  // trips, so they overlap): one holds the site's lease at a time.
  const answers = await Promise.all([...Array(8)].map(async () => {
    const res = await fetch(`${BASE}/v1/admin/neighbours/refresh?full=1`, { method: 'POST', headers: ADMIN });
    return { status: res.status, body: await res.json() };
  }));
  const seen = JSON.stringify(answers.map((a) => [a.status, a.body.computed ?? a.body.error]));
  for (const a of answers) {
    assert.ok(a.status === 200 || (a.status === 409 && a.body.error === 'refresh_running'), JSON.stringify(a));
  }
  assert.ok(answers.some((a) => a.status === 409), `no overlapping refresh was refused: ${seen}`);
  assert.ok(answers.some((a) => a.status === 200 && a.body.computed), seen);
  // The lease was given back: the next refresh runs, has nothing new, and a rebuild finds the
  // stored rows whole (it writes none).
  const next = await refresh();
  assert.equal(next.computed, false, JSON.stringify(next));
  const rebuilt = await refresh(true);
  assert.equal(rebuilt.written + rebuilt.deleted, 0, JSON.stringify(rebuilt));
});
