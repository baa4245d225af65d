// The A/B report: on-site events with variants and orders sent over HTTP, counted by the
// collector from D1 (`GET /v1/admin/experiments/report`), checked against hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ADMIN, BASE, WRITE_KEY, postBatch, uniqueId } from './helpers.mjs';

const DAY = 24 * 3600 * 1000;
const Z = 1.959963984540054;

/** Wilson score interval, written out again here so the test does not trust the engine. */
function wilson(x, n) {
  const p = x / n;
  const d = 1 + (Z * Z) / n;
  const c = (p + (Z * Z) / (2 * n)) / d;
  const h = (Z / d) * Math.sqrt((p * (1 - p)) / n + (Z * Z) / (4 * n * n));
  return { value: p, low: Math.max(0, c - h), high: Math.min(1, c + h) };
}

function near(actual, expected, what) {
  for (const k of ['value', 'low', 'high']) {
    assert.ok(Math.abs(actual[k] - expected[k]) < 1e-9, `${what}.${k}: ${actual[k]} vs ${expected[k]}`);
  }
}

async function send(events) {
  const now = Date.now();
  const batch = events.map(([anonymousId, event, properties, daysAgo]) => ({
    type: 'track', event, anonymousId, properties, messageId: randomUUID(),
    timestamp: new Date(now - daysAgo * DAY).toISOString(),
  }));
  const res = await postBatch({ writeKey: WRITE_KEY, sentAt: new Date(now).toISOString(), batch });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.accepted, batch.length, res.text);
}

// A product outside the catalogue: these orders must not change what recommendations.test.mjs
// (which runs after this file) expects to be the bestseller.
const order = (total) => ({ order_id: uniqueId('o'), total, currency: 'EUR', products: [{ product_id: 'not-in-catalogue', quantity: 1, price: total }] });

async function report(query) {
  const res = await fetch(`${BASE}/v1/admin/experiments/report?${new URLSearchParams(query)}`, { headers: ADMIN });
  return { status: res.status, body: await res.json() };
}

test('a widget test: impressions, submits, 7-day attributed purchases, Wilson intervals and the difference', async () => {
  const key = uniqueId('popup');
  const [a1, a2, a3, a4, b1, b2] = Array.from({ length: 6 }, () => randomUUID());
  const shown = (variant) => ({ widget_id: key, widget_kind: 'popup', variant });
  await send([
    ...[a1, a2, a3, a4].map((v) => [v, 'Widget Shown', shown('A'), 10]),
    [a1, 'Widget Submitted', shown('A'), 10],
    [a2, 'Widget Submitted', shown('A'), 10],
    [b1, 'Widget Shown', shown('B'), 10],
    [b2, 'Widget Shown', shown('B'), 10],
    [b1, 'Widget Submitted', shown('B'), 10],
    // Not part of this test: another widget, and an event without a variant.
    [a1, 'Widget Shown', { widget_id: uniqueId('other'), variant: 'A' }, 10],
    [a4, 'Widget Shown', { widget_id: key }, 10],
  ]);
  await send([
    [a1, 'Order Completed', order(20), 9],   // 1 day after the submit: A
    [a2, 'Order Completed', order(30), 2],   // 8 days after: too late
    [a3, 'Order Completed', order(40), 9],   // never submitted
    [b1, 'Order Completed', order(50), 9.5], // B
  ]);
  const { status, body } = await report({ test: key, variants: 'A,B' });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.baseline, 'A');
  assert.equal(body.attributionWindowDays, 7);
  const [a, b] = body.variants;
  assert.deepEqual(
    { variant: a.variant, impressions: a.impressions, clicks: a.clicks, submits: a.submits, visitors: a.visitors, purchases: a.purchases, converters: a.converters },
    { variant: 'A', impressions: 4, clicks: 0, submits: 2, visitors: 4, purchases: 1, converters: 1 },
  );
  assert.deepEqual(
    { variant: b.variant, impressions: b.impressions, submits: b.submits, visitors: b.visitors, purchases: b.purchases, converters: b.converters },
    { variant: 'B', impressions: 2, submits: 1, visitors: 2, purchases: 1, converters: 1 },
  );
  near(a.conversionRate, wilson(1, 4), 'A conversion');
  near(b.conversionRate, wilson(1, 2), 'B conversion');
  near(a.clickRate, wilson(2, 4), 'A click rate');
  assert.equal(a.differenceVsBaseline, null);
  const se = Math.sqrt((0.5 * 0.5) / 2 + (0.25 * 0.75) / 4);
  near(b.differenceVsBaseline, { value: 0.25, low: 0.25 - Z * se, high: 0.25 + Z * se }, 'B − A');

  // Without an order, variants come sorted by name; B first makes it the baseline.
  const reversed = await report({ test: key, variants: 'B' });
  assert.deepEqual(reversed.body.variants.map((v) => v.variant), ['B', 'A']);
  near(reversed.body.variants[1].differenceVsBaseline, { value: -0.25, low: -0.25 - Z * se, high: -0.25 + Z * se }, 'A − B');
});

test('a placement test counts block impressions and card clicks by placement', async () => {
  const placement = uniqueId('home');
  const [v1, v2, v3] = Array.from({ length: 3 }, () => randomUUID());
  const props = (variant, extra = {}) => ({ placement, recomm_id: uniqueId('r'), variant, ...extra });
  await send([
    [v1, 'Recommendation Block Viewed', props('bestsellers'), 3],
    [v1, 'Product Clicked', props('bestsellers', { product_id: 'LL-1001' }), 3],
    [v1, 'Product Clicked', props('bestsellers', { product_id: 'LL-1002' }), 3],
    [v2, 'Recommendation Block Viewed', props('ease'), 3],
    [v3, 'Recommendation Block Viewed', props('ease'), 3],
    [v3, 'Product Clicked', props('ease', { product_id: 'LL-1003' }), 3],
    [v3, 'Order Completed', order(10), 2],
  ]);
  const { body } = await report({ test: placement });
  const rows = Object.fromEntries(body.variants.map((v) => [v.variant, v]));
  assert.equal(body.baseline, 'bestsellers');
  assert.equal(rows.bestsellers.impressions, 1);
  assert.equal(rows.bestsellers.clicks, 2);
  assert.equal(rows.bestsellers.purchases, 0);
  assert.equal(rows.ease.impressions, 2);
  assert.equal(rows.ease.clicks, 1);
  assert.equal(rows.ease.purchases, 1);
  near(rows.ease.conversionRate, wilson(1, 2), 'ease conversion');
});

test('the report needs the admin key and a test', async () => {
  assert.equal((await fetch(`${BASE}/v1/admin/experiments/report?test=x`)).status, 401);
  const missing = await report({});
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error, 'missing_test');
  const empty = await report({ test: uniqueId('nothing') });
  assert.deepEqual(empty.body.variants, []);
  assert.equal(empty.body.baseline, null);
});
