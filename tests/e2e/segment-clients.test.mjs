// Segment's official clients deliver to Orbita unchanged, only their host pointed at it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Analytics } from '@segment/analytics-node';
import { BASE, WRITE_KEY, d1, eventually, uniqueId } from './helpers.mjs';

const byUser = (userId) => d1('SELECT type, event, raw FROM events WHERE user_id = ? ORDER BY timestamp_ms', userId);

test('@segment/analytics-node: identify, track and page are stored', async () => {
  const userId = uniqueId('node-user');
  const errors = [];
  const analytics = new Analytics({ writeKey: WRITE_KEY, host: BASE, flushInterval: 50, maxRetries: 2 });
  analytics.on('error', (e) => errors.push(e));
  analytics.identify({ userId, traits: { email: 'node@example.com', plan: 'silver' } });
  analytics.track({ userId, event: 'Product Viewed', properties: { product_id: 'LL-1002', price: 129 } });
  analytics.page({ userId, name: 'Home', properties: { path: '/' } });
  await analytics.closeAndFlush({ timeout: 10_000 });
  assert.deepEqual(errors, []);
  const rows = await eventually(() => { const r = byUser(userId); return r.length === 3 && r; }, 10_000, 'three events');
  assert.deepEqual(rows.map((r) => r.type).sort(), ['identify', 'page', 'track']);
  const identify = JSON.parse(rows.find((r) => r.type === 'identify').raw);
  assert.equal(identify.traits.email, 'node@example.com');
  assert.equal(identify.context.library.name, '@segment/analytics-node');
  const track = JSON.parse(rows.find((r) => r.type === 'track').raw);
  assert.equal(track.properties.product_id, 'LL-1002');
});

const python = fileURLToPath(new URL('../../.tools/py/bin/python', import.meta.url));
const script = fileURLToPath(new URL('./segment_python_client.py', import.meta.url));

for (const encoding of ['plain', 'gzip']) {
  test(`segment-analytics-python (${encoding} body): identify, track and page are stored`, async () => {
    const userId = uniqueId(`py-${encoding}`);
    const { stdout } = await promisify(execFile)(python, [script, userId, encoding], {
      env: { ...process.env, ORBITA_BASE_URL: BASE, ORBITA_WRITE_KEY: WRITE_KEY }, timeout: 60_000,
    });
    assert.match(stdout, /sent/);
    const rows = await eventually(() => { const r = byUser(userId); return r.length === 3 && r; }, 10_000, 'three events');
    assert.deepEqual(rows.map((r) => r.type).sort(), ['identify', 'page', 'track']);
    const order = JSON.parse(rows.find((r) => r.type === 'track').raw);
    assert.equal(order.event, 'Order Completed');
    assert.equal(order.properties.products[0].product_id, 'LL-1001');
    assert.equal(JSON.parse(rows.find((r) => r.type === 'identify').raw).context.library.name, 'analytics-python');
  });
}
