// Product feed import through the admin endpoint: Merchant XML, YML, CSV and product JSON, in
// the real runtime with real D1. Test products use their own IDs and `mode=partial`, except the
// full-import test, which restores the demo catalogue afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, BASE, d1, uniqueId } from './helpers.mjs';

async function importFeed(body, query = 'mode=partial', contentType = 'text/plain') {
  const res = await fetch(`${BASE}/v1/admin/catalogue?${query}`, {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': contentType },
    body,
  });
  return { status: res.status, body: await res.json() };
}

const product = (id) => d1('SELECT * FROM products WHERE id = ?', id)[0];

test('a YML feed loads offers with category paths, old prices and params; bad offers are reported by row', async () => {
  const p = uniqueId('yml');
  const feed = `<?xml version="1.0" encoding="UTF-8"?>
<yml_catalog date="2026-11-23 10:00"><shop><name>Test</name>
 <currencies><currency id="EUR" rate="1"/></currencies>
 <categories><category id="1">Home</category><category id="2" parentId="1">Lamps</category></categories>
 <offers>
  <offer id="${p}-1" available="true"><name>Brass lamp</name><price>80</price><oldprice>100</oldprice>
   <categoryId>2</categoryId><url>/p/${p}-1</url><picture>/img/${p}-1.jpg</picture><vendor>Lumen</vendor>
   <param name="Colour">brass</param></offer>
  <offer id="${p}-2" available="false"><name>Paper lamp</name><price>20</price><categoryId>1</categoryId></offer>
  <offer id="${p}-3"><name>No price</name><price>ask us</price></offer>
 </offers></shop></yml_catalog>`;
  const answer = await importFeed(feed, 'mode=partial', 'application/xml');
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.format, 'yml');
  assert.equal(answer.body.imported, 2);
  assert.deepEqual(answer.body.errors.map((e) => [e.row, e.id]), [[3, `${p}-3`]]);
  assert.match(answer.body.errors[0].reason, /price/);
  const lamp = product(`${p}-1`);
  assert.equal(lamp.category, 'Home > Lamps');
  assert.equal(lamp.price, 80);
  assert.equal(lamp.old_price, 100);
  assert.equal(lamp.currency, 'EUR');
  assert.equal(lamp.brand, 'Lumen');
  assert.equal(lamp.available, 1);
  assert.deepEqual(JSON.parse(lamp.attributes), { Colour: 'brass' });
  assert.equal(product(`${p}-2`).available, 0);
  assert.equal(product(`${p}-3`), undefined);
});

test('a CSV feed (semicolons, decimal commas, extra columns) loads, and a re-import updates in place', async () => {
  const p = uniqueId('csv');
  const csv = `id;name;price;currency;category;availability;size\n${p}-1;Linen towel;12,50;EUR;Bath > Towels;in stock;L\n${p}-2;"Towel; ""XL""";15;EUR;Bath;out of stock;XL\n`;
  const first = await importFeed(csv, 'mode=partial', 'text/csv');
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.format, 'csv');
  assert.equal(first.body.imported, 2);
  assert.equal(product(`${p}-1`).price, 12.5);
  assert.equal(product(`${p}-2`).title, 'Towel; "XL"');
  assert.deepEqual(JSON.parse(product(`${p}-1`).attributes), { size: 'L' });
  const again = await importFeed(`id,title,price\n${p}-1,Linen towel,9.90 EUR\n`, 'mode=partial');
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(product(`${p}-1`).price, 9.9);
  assert.equal(d1('SELECT COUNT(*) AS n FROM products WHERE id = ?', `${p}-1`)[0].n, 1);
});

test('an import in parts with one run retires what no part listed, then the demo catalogue is restored', async () => {
  const p = uniqueId('parts');
  const run = Date.now();
  const part = (ids, offset) => JSON.stringify({
    offset,
    products: ids.map((id) => ({ id, title: id, price: 5, currency: 'EUR', category: 'Parts', available: true, image: '', url: `/p/${id}`, brand: null })),
  });
  for (const [ids, offset] of [[[`${p}-1`, `${p}-2`], 0], [[`${p}-3`], 2]]) {
    const answer = await importFeed(part(ids, offset), `mode=partial&run=${run}`, 'application/json');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.format, 'json');
  }
  const before = d1('SELECT COUNT(*) AS n FROM products WHERE available = 1 AND id NOT LIKE ?', `${p}-%`)[0].n;
  assert.ok(before > 0, 'other products are available before the retire');
  const retire = await fetch(`${BASE}/v1/admin/catalogue/retire?run=${run}`, { method: 'POST', headers: ADMIN });
  const retired = await retire.json();
  assert.equal(retire.status, 200, JSON.stringify(retired));
  assert.equal(retired.retired, before);
  assert.deepEqual(d1('SELECT id FROM products WHERE available = 1 ORDER BY feed_position').map((r) => r.id), [`${p}-1`, `${p}-2`, `${p}-3`]);
  // Put the demo shop's catalogue back (a full import retires the test products in turn).
  const demo = await (await fetch(`${BASE}/feed.xml`)).text();
  const restored = await importFeed(demo, 'mode=full', 'application/xml');
  assert.equal(restored.status, 200, JSON.stringify(restored.body));
  assert.equal(restored.body.format, 'merchant');
  const inStock = demo.match(/<g:availability>in stock</g).length;
  assert.ok(inStock > 0 && inStock < restored.body.imported, 'the demo feed has sold-out products too');
  assert.equal(d1('SELECT COUNT(*) AS n FROM products WHERE available = 1')[0].n, inStock);
  assert.equal(product(`${p}-1`).available, 0);
});

test('100,000 offers in one CSV request are all stored', async () => {
  const p = uniqueId('bulk');
  const lines = ['id,title,price,currency,category,colour'];
  for (let i = 0; i < 100_000; i++) lines.push(`${p}-${i},Bulk item ${i},${(i % 500) + 0.99},EUR,Bulk > ${i % 40},c${i % 7}`);
  const body = lines.join('\n');
  assert.ok(body.length > 5_000_000, `a realistic size (${body.length} bytes)`);
  const answer = await importFeed(body, 'mode=partial', 'text/csv');
  assert.equal(answer.status, 200, JSON.stringify(answer.body).slice(0, 500));
  assert.equal(answer.body.imported, 100_000);
  assert.deepEqual(answer.body.errors, []);
  assert.equal(d1('SELECT COUNT(*) AS n FROM products WHERE id LIKE ?', `${p}-%`)[0].n, 100_000);
  assert.equal(product(`${p}-99999`).price, 499.99);
  // Leave the bulk products out of the shop's recommendations for the tests that follow.
  const gone = ['id,title,price,currency,availability'];
  for (let i = 0; i < 100_000; i++) gone.push(`${p}-${i},Bulk item ${i},1,EUR,out of stock`);
  const retire = await importFeed(gone.join('\n'), 'mode=partial', 'text/csv');
  assert.equal(retire.status, 200);
  assert.equal(d1('SELECT COUNT(*) AS n FROM products WHERE id LIKE ? AND available = 1', `${p}-%`)[0].n, 0);
});

test('feed requests that cannot be read get a typed error', async () => {
  const unknown = await importFeed('id,title,price\n', 'format=xlsx');
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error, 'unknown_format');
  const json = await importFeed('{"products": 5}', 'mode=partial', 'application/json');
  assert.equal(json.status, 400);
  assert.equal(json.body.error, 'invalid_products');
  const empty = await importFeed('sku,colour\nA,red\n', 'mode=partial', 'text/csv');
  assert.equal(empty.status, 400);
  assert.equal(empty.body.error, 'empty_feed');
  assert.match(empty.body.errors[0].reason, /id, title/);
  const retire = await fetch(`${BASE}/v1/admin/catalogue/retire`, { method: 'POST', headers: ADMIN });
  assert.equal(retire.status, 400);
  assert.equal((await retire.json()).error, 'missing_run');
  const anonymous = await fetch(`${BASE}/v1/admin/catalogue/retire?run=1`, { method: 'POST' });
  assert.equal(anonymous.status, 401);
});
