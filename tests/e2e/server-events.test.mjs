// Server-side events (secret key) and Yespo's "generate event" body on its own path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ADMIN, BASE, WRITE_KEY, postBatch, profile, uniqueId } from './helpers.mjs';

const SERVER = { authorization: 'Bearer demo-server-key' };
const post = async (path, body, headers) => {
  const res = await fetch(`${BASE}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
};

test('an offline sale identified only by email joins the customer who shops online', async () => {
  const [device, user] = [randomUUID(), uniqueId('customer')];
  const email = `${user}@example.com`;
  await postBatch({ writeKey: WRITE_KEY, batch: [{ type: 'identify', anonymousId: device, userId: user, traits: { email } }] });

  const sale = { event: 'Order Completed', messageId: uniqueId('pos'), context: { traits: { email: email.toUpperCase() } },
    properties: { order_id: uniqueId('pos'), total: 89, currency: 'EUR', channel: 'store', products: [{ product_id: 'LL-1030', quantity: 1 }] } };
  const withWriteKey = await post('/v1/track', { ...sale, writeKey: WRITE_KEY });
  assert.equal(withWriteKey.body.events[0].reason, 'missing_identity', 'the public key cannot name people by email');
  const withServerKey = await post('/v1/track', sale, SERVER);
  assert.equal(withServerKey.status, 200);
  assert.equal(withServerKey.body.events[0].status, 'accepted');

  const customer = (await profile({ userId: user })).body;
  assert.ok(customer.events.some((e) => e.properties?.channel === 'store'), 'the store sale is in the online customer profile');
});

test("Yespo's generate-event body is accepted unchanged with the server key", async () => {
  const email = `${uniqueId('yespo')}@example.com`;
  const body = { eventTypeKey: 'orderCreated', keyValue: email,
    params: [{ name: 'externalCustomerId', value: uniqueId('crm') }, { name: 'totalCost', value: 120.5 }, { name: 'status', value: 'INITIALIZED' }] };
  const yespoAuth = { authorization: `Basic ${Buffer.from('user:demo-server-key').toString('base64')}` };

  const first = await post('/api/v2/event', body, yespoAuth);
  assert.equal(first.status, 200);
  assert.equal(first.body.events[0].status, 'accepted');
  const again = await post('/api/v2/event', body, yespoAuth);
  assert.equal(again.body.events[0].status, 'duplicate', 'an identical resend is recognised without a messageId');

  const stored = (await profile({ email })).body;
  const order = stored.events.find((e) => e.event === 'orderCreated');
  assert.equal(order.properties.totalCost, 120.5);
  assert.equal(order.context.library.name, 'yespo-generate-event');

  const list = await post('/api/v2/event', [
    { eventTypeKey: 'pageViewed', keyValue: uniqueId('crm') },
    { keyValue: 'no-event-type' },
  ], yespoAuth);
  assert.deepEqual(list.body.events.map((e) => e.reason ?? e.status), ['accepted', 'missing_event_name']);

  const browserKey = await post('/api/v2/event', body, { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` });
  assert.equal(browserKey.status, 403);
  assert.equal(browserKey.body.error, 'server_key_required');
  assert.equal((await post('/api/v2/event', body, {})).status, 401);
});
