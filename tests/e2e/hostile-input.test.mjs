// Hostile and malformed input, table-driven: each case names the status and the reason the
// collector must answer with, and the collector must keep serving afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { BASE, WRITE_KEY, d1, uniqueId } from './helpers.mjs';

const PARTNER = process.env.ORBITA_PARTNER_ORIGIN;
const json = (value) => JSON.stringify(value);
const basic = (key) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
const visitor = () => uniqueId('hostile');
const event = (fields) => ({ type: 'track', event: 'Signed Up', anonymousId: visitor(), messageId: uniqueId('h'), ...fields });
const batchOf = (...events) => json({ writeKey: WRITE_KEY, batch: events });
const nested = (depth) => '['.repeat(depth) + ']'.repeat(depth);

const SQL = "x'); DROP TABLE events; --";
const SCRIPT = '<script>alert(document.cookie)</script><img src=x onerror=alert(1)>';

// `status` and `error` describe the HTTP answer; `reason` the single event's verdict in a 200.
const cases = [
  { name: 'malformed JSON', body: '{"batch": [', status: 400, error: 'malformed_json' },
  { name: 'empty body', body: '', status: 400, error: 'malformed_json' },
  { name: 'JSON array instead of an object', body: '[]', status: 400, error: 'missing_batch' },
  { name: 'batch is an object', body: json({ writeKey: WRITE_KEY, batch: {} }), status: 400, error: 'missing_batch' },
  { name: 'no batch key', body: json({ writeKey: WRITE_KEY, events: [] }), status: 400, error: 'missing_batch' },
  { name: 'invalid UTF-8', body: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), status: 400, error: 'invalid_utf8' },
  { name: 'body over 500 KB', body: batchOf(event({ properties: { s: 'a'.repeat(520_000) } })), status: 413, error: 'batch_too_large' },
  { name: 'gzip bomb (10 MB of zeros, 10 KB compressed)', body: gzipSync(Buffer.alloc(10_000_000, 0x20)), headers: { 'content-encoding': 'gzip' }, status: 413, error: 'batch_too_large' },
  { name: 'corrupt gzip', body: Buffer.from('not gzip at all'), headers: { 'content-encoding': 'gzip' }, status: 400, error: 'bad_compression' },
  { name: 'unsupported encoding', body: batchOf(event()), headers: { 'content-encoding': 'br' }, status: 415, error: 'unsupported_encoding' },
  { name: 'no write key', body: json({ batch: [event()] }), status: 401, error: 'missing_key' },
  { name: 'wrong write key', body: json({ writeKey: 'guess', batch: [event()] }), status: 401, error: 'invalid_key' },
  { name: 'wrong key in Basic auth', body: json({ batch: [event()] }), headers: { authorization: basic('guess') }, status: 401, error: 'invalid_key' },
  { name: 'garbage Authorization header', body: json({ batch: [event()] }), headers: { authorization: 'Basic ***' }, status: 401, error: 'missing_key' },
  { name: 'page on a foreign origin', body: batchOf(event()), headers: { origin: 'https://evil.test' }, status: 403, error: 'origin_not_allowed' },
  { name: 'preflight from a foreign origin', method: 'OPTIONS', headers: { origin: 'https://evil.test' }, status: 403, error: 'origin_not_allowed' },
  { name: 'single event over 32 KB (/v1/track)', path: '/v1/track', body: json({ ...event({ properties: { s: 'a'.repeat(33_000) } }), writeKey: WRITE_KEY }), status: 413, error: 'event_too_large' },
  { name: 'single-event body that is not an object (/v1/page)', path: '/v1/page', body: '"page"', status: 400, error: 'malformed_json' },
  { name: 'GET on the ingest endpoint', method: 'GET', body: undefined, status: 405, error: 'method_not_allowed' },
  { name: 'event over 32 KB in a batch', body: batchOf(event({ properties: { s: 'a'.repeat(33_000) } })), status: 200, reason: 'event_too_large' },
  { name: 'deep nesting (300 levels)', body: `{"writeKey":"${WRITE_KEY}","batch":[{"type":"page","anonymousId":"a","properties":{"x":${nested(300)}}}]}`, status: 200, reason: 'too_deep' },
  { name: 'event that is a number', body: json({ writeKey: WRITE_KEY, batch: [42] }), status: 200, reason: 'not_an_object' },
  { name: 'missing type', body: batchOf(event({ type: undefined })), status: 200, reason: 'missing_type' },
  { name: 'unknown type', body: batchOf(event({ type: 'purchase' })), status: 200, reason: 'unknown_type' },
  { name: 'type of the wrong JSON type', body: batchOf(event({ type: ['track'] })), status: 200, reason: 'invalid_field' },
  { name: 'no anonymousId or userId', body: batchOf(event({ anonymousId: undefined })), status: 200, reason: 'missing_identity' },
  { name: 'anonymousId is an object', body: batchOf(event({ anonymousId: { $gt: '' } })), status: 200, reason: 'invalid_field' },
  { name: 'userId of 10,000 characters', body: batchOf(event({ userId: 'u'.repeat(10_000) })), status: 200, reason: 'too_long' },
  { name: 'track without an event name', body: batchOf(event({ event: undefined })), status: 200, reason: 'missing_event_name' },
  { name: 'event name of 1,000 characters', body: batchOf(event({ event: 'E'.repeat(1000) })), status: 200, reason: 'too_long' },
  { name: 'timestamp that is not a date', body: batchOf(event({ timestamp: 'yesterday' })), status: 200, reason: 'invalid_timestamp' },
  { name: 'timestamp as a number', body: batchOf(event({ timestamp: 1795452084000 })), status: 200, reason: 'invalid_timestamp' },
  { name: 'impossible date (Feb 30)', body: batchOf(event({ timestamp: '2026-02-30T10:00:00Z' })), status: 200, reason: 'invalid_timestamp' },
  { name: 'properties as a string', body: batchOf(event({ properties: 'a=1' })), status: 200, reason: 'invalid_field' },
  { name: 'Product Viewed without product_id', body: batchOf(event({ event: 'Product Viewed', properties: { name: 'x' } })), status: 200, reason: 'missing_product_id' },
  { name: 'Order Completed without order_id', body: batchOf(event({ event: 'Order Completed', properties: { products: [] } })), status: 200, reason: 'missing_order_id' },
  { name: 'Cart Updated with products as an object', body: batchOf(event({ event: 'Cart Updated', properties: { products: { product_id: 1 } } })), status: 200, reason: 'missing_products' },
  { name: 'SQL injection in every string field', body: batchOf(event({ event: SQL, anonymousId: SQL, messageId: uniqueId(SQL), properties: { q: SQL } })), status: 200, reason: 'accepted', stored: SQL },
  { name: 'script injection in properties', body: batchOf(event({ properties: { name: SCRIPT } })), status: 200, reason: 'accepted', stored: SCRIPT },
  { name: 'NUL and control characters in strings', body: batchOf(event({ properties: { s: 'a\u0000b\u0007c\u2028' } })), status: 200, reason: 'accepted', stored: 'a\u0000b\u0007c\u2028' },
  { name: 'unknown top-level fields are kept', body: batchOf(event({ futureField: { nested: true } })), status: 200, reason: 'accepted', stored: 'futureField' },
  { name: 'captured without tracking consent', body: batchOf(event({ context: { consent: { tracking: 'denied' } } })), status: 200, reason: 'consent_denied' },
  { name: 'timestamp ten years in the future', body: batchOf(event({ timestamp: '2036-11-23T10:00:00Z' })), status: 200, reason: 'accepted' },
  { name: 'timestamp in 1970', body: batchOf(event({ timestamp: '1970-01-01T00:00:00Z' })), status: 200, reason: 'accepted' },
  { name: 'gzip body (as Segment clients may send)', body: gzipSync(Buffer.from(batchOf(event()))), headers: { 'content-encoding': 'gzip' }, status: 200, reason: 'accepted' },
  { name: 'page on the allowed partner origin', body: batchOf(event()), headers: { origin: PARTNER }, status: 200, reason: 'accepted', cors: PARTNER },
];

test(`hostile input: ${cases.length} cases, each with its status and reason`, async (t) => {
  assert.ok(cases.length >= 30);
  for (const c of cases) {
    await t.test(c.name, async () => {
      const res = await fetch(`${BASE}${c.path ?? '/v1/batch'}`, {
        method: c.method ?? 'POST',
        headers: { 'content-type': 'application/json', ...(c.headers ?? {}) },
        body: c.method === 'GET' || c.method === 'OPTIONS' ? undefined : c.body,
      });
      const text = await res.text();
      assert.equal(res.status, c.status, `${c.name}: ${text.slice(0, 300)}`);
      const answer = JSON.parse(text);
      if (c.error) {
        assert.equal(answer.success, false);
        assert.equal(answer.error, c.error);
        assert.ok(answer.message.length > 10, 'the error explains itself');
      }
      if (c.reason) {
        const verdict = answer.events[0];
        assert.equal(verdict.reason ?? verdict.status, c.reason, text.slice(0, 300));
        if (verdict.status === 'rejected') assert.ok(verdict.detail, 'rejections carry a detail');
      }
      if (c.stored) {
        const raw = d1('SELECT raw FROM events WHERE message_id = ?', answer.events[0].messageId)[0].raw;
        assert.ok(raw.includes(JSON.stringify(c.stored).slice(1, -1)), 'stored verbatim');
      }
      if (c.cors) assert.equal(res.headers.get('access-control-allow-origin'), c.cors);
    });
  }
  // The tables survived the SQL injection attempts, and the collector still serves.
  assert.ok(d1('SELECT COUNT(*) AS n FROM events')[0].n > 0);
  const after = await fetch(`${BASE}/v1/batch`, { method: 'POST', body: batchOf(event()) });
  assert.equal(after.status, 200);
});

test('preflight from the allowed partner origin is answered for cross-origin sends', async () => {
  const res = await fetch(`${BASE}/v1/batch`, { method: 'OPTIONS', headers: { origin: PARTNER, 'access-control-request-method': 'POST' } });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), PARTNER);
  assert.match(res.headers.get('access-control-allow-methods'), /POST/);
});

test('the collector sets its copy of the visitor cookie for pages on its own origin only', async () => {
  const id = crypto.randomUUID();
  const body = batchOf({ type: 'page', anonymousId: id, messageId: uniqueId('cookie') });
  const own = await fetch(`${BASE}/v1/batch`, { method: 'POST', headers: { origin: BASE }, body });
  const cookie = own.headers.get('set-cookie');
  assert.match(cookie, new RegExp(`^orb_aid_s=${id}; Path=/; Max-Age=34560000; SameSite=Lax`));
  const server = await fetch(`${BASE}/v1/batch`, { method: 'POST', body: batchOf({ type: 'page', anonymousId: id }) });
  assert.equal(server.headers.get('set-cookie'), null, 'no cookie for server-side senders');
  const notUuid = await fetch(`${BASE}/v1/batch`, { method: 'POST', headers: { origin: BASE }, body: batchOf({ type: 'page', anonymousId: 'x; Domain=evil.test' }) });
  assert.equal(notUuid.headers.get('set-cookie'), null, 'only well-formed IDs become cookies');
});
