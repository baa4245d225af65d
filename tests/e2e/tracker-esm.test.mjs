// The tracker as an ES module (`orbita.mjs` + `orbita.d.mts`, served beside the stub): imported by
// a page in real Chromium, its calls reach the collector; and its TypeScript types, checked with
// `tsc --noEmit` against an example that also holds mistakes the types must reject.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BASE, WRITE_KEY, launch, d1, eventually, uniqueId, anonymousIdCookie } from './helpers.mjs';

const marked = (marker) => {
  try {
    return d1("SELECT raw FROM events WHERE json_extract(raw, '$.properties.marker') = ?", marker).map((r) => JSON.parse(r.raw));
  } catch (e) {
    return []; // the collector holds the database's write lock
  }
};

test('import { init, track, ... } from orbita.mjs: events arrive, calls before init are queued', { timeout: 30_000 }, async () => {
  const { context, close } = await launch();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const marker = uniqueId('esm');
    // A page of the shop's origin without the script tag: only the module.
    await page.route(`${BASE}/esm.html`, (route) => route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><title>ESM</title><script type="module">
        import orbita, { init, track, productViewed, cart, anonymousId, pendingEvents } from '/orbita/orbita.mjs';
        track('Before Init', { marker: '${marker}' });
        window.result = init({ writeKey: '${WRITE_KEY}' }).then(() => {
          productViewed({ product_id: 'LL-1003', marker: '${marker}' });
          cart({ products: [{ product_id: 'LL-1003', quantity: 2 }], marker: '${marker}' });
          orbita.purchase({ order_id: '${marker}', total: 97, products: [{ product_id: 'LL-1003', quantity: 2 }], marker: '${marker}' });
          return { id: anonymousId(), pending: typeof pendingEvents() };
        });
      </script>`,
    }));
    await page.goto(`${BASE}/esm.html`);
    const result = await page.evaluate(() => Promise.race([window.result,
      new Promise((_, fail) => setTimeout(() => fail(new Error('init() did not resolve in 10 s')), 10_000))]));
    assert.deepEqual(errors, []);
    assert.equal(result.pending, 'number');
    assert.equal(result.id, (await anonymousIdCookie(context)).value, 'anonymousId() is the visitor cookie');
    await eventually(() => marked(marker).length >= 4, 10_000, 'the module\'s four events');
    const names = marked(marker).map((e) => e.event).sort();
    assert.deepEqual(names, ['Before Init', 'Cart Updated', 'Order Completed', 'Product Viewed']);
    const view = d1("SELECT raw FROM events WHERE type = 'page' AND json_extract(raw, '$.context.page.path') = '/esm.html' AND anonymous_id = ?", result.id);
    assert.equal(view.length, 1, 'the automatic page view, once');
  } finally {
    await close();
  }
});

test('the TypeScript types check against an example, and reject its mistakes (tsc --noEmit)', () => {
  const tsc = process.env.ORBITA_TSC || 'node_modules/typescript/bin/tsc';
  assert.ok(existsSync(tsc), `${tsc} is missing: run cargo xtask setup (typescript is pinned in package.json)`);
  const run = spawnSync(process.execPath, [tsc, '--noEmit', '-p', 'tests/types'], { encoding: 'utf8' });
  assert.equal(run.status, 0, `tsc failed:\n${run.stdout}${run.stderr}`);
});
