// Admin documents (a placement, the site configuration) are read like batches: a declared
// Content-Length over the limit is refused before the body is read, gzip is accepted, and an
// oversized document gets `413 too_large` naming the limit; nothing is stored then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { ADMIN, BASE, WRITE_KEY, d1 } from './helpers.mjs';

async function put(path, body, headers = {}) {
  const res = await fetch(`${BASE}${path}`, { method: 'PUT', headers: { ...ADMIN, 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: await res.json() };
}

const placement = (padding) => JSON.stringify({ chain: [{ recommender: 'bestsellers' }], note: padding });

test('a placement over 64 KB gets 413 too_large and is not stored; gzip is accepted', async () => {
  const big = await put('/v1/admin/placements/e2e-oversized', placement('x'.repeat(70_000)));
  assert.equal(big.status, 413, JSON.stringify(big.body));
  assert.equal(big.body.error, 'too_large');
  assert.match(big.body.message, /limit is 65536/);
  assert.equal(d1("SELECT COUNT(*) AS n FROM placements WHERE name = 'e2e-oversized'")[0].n, 0);

  // The same limit after decompression: a small gzip body that expands past it is refused too.
  const bomb = await put('/v1/admin/placements/e2e-oversized', gzipSync(placement(' '.repeat(200_000))), { 'content-encoding': 'gzip' });
  assert.equal(bomb.status, 413, JSON.stringify(bomb.body));
  assert.equal(bomb.body.error, 'too_large');

  const zipped = await put('/v1/admin/placements/e2e-zipped', gzipSync(JSON.stringify({ chain: [{ recommender: 'bestsellers' }] })), { 'content-encoding': 'gzip' });
  assert.equal(zipped.status, 200, JSON.stringify(zipped.body));
  const del = await fetch(`${BASE}/v1/admin/placements/e2e-zipped`, { method: 'DELETE', headers: ADMIN });
  assert.equal(del.status, 200);
});

test('a site configuration over 256 KB gets 413 too_large, and the stored one stays', async () => {
  const before = await (await fetch(`${BASE}/v1/site-config?writeKey=${WRITE_KEY}`)).text();
  const big = await put('/v1/admin/site-config', JSON.stringify({ widgets: [], note: 'x'.repeat(300_000) }));
  assert.equal(big.status, 413, JSON.stringify(big.body));
  assert.equal(big.body.error, 'too_large');
  assert.match(big.body.message, /limit is 262144/);
  const after = await (await fetch(`${BASE}/v1/site-config?writeKey=${WRITE_KEY}`)).text();
  assert.equal(after, before);
});
