// The collector over HTTP, in the real Workers runtime with real D1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, WRITE_KEY, d1, postBatch, uniqueId } from './helpers.mjs';

const page = (anonymousId, messageId) => ({ type: 'page', anonymousId, messageId, timestamp: new Date().toISOString() });
const stored = (ids) => d1(`SELECT message_id FROM events WHERE message_id IN (${ids.map(() => '?').join(',')})`, ...ids);

test('a resent batch stores nothing twice and says so per event', async () => {
  const visitor = uniqueId('visitor');
  const ids = [uniqueId('m'), uniqueId('m'), uniqueId('m')];
  const body = { writeKey: WRITE_KEY, sentAt: new Date().toISOString(), batch: ids.map((id) => page(visitor, id)) };
  const first = await postBatch(body);
  assert.equal(first.status, 200);
  assert.deepEqual(first.body.events.map((e) => e.status), ['accepted', 'accepted', 'accepted']);
  const again = await postBatch(body);
  assert.equal(again.status, 200);
  assert.deepEqual(again.body.events.map((e) => [e.messageId, e.status]), ids.map((id) => [id, 'duplicate']));
  assert.equal(again.body.accepted, 0);
  assert.equal(stored(ids).length, 3);
  const profiles = d1(`SELECT DISTINCT profile_id FROM events WHERE message_id IN (${ids.map(() => '?').join(',')})`, ...ids);
  assert.equal(profiles.length, 1, 'one visitor, one profile');
  assert.ok(profiles[0].profile_id, 'every stored event carries its profile');
  assert.equal(d1("SELECT profile_id FROM identities WHERE kind = 'anonymous' AND value = ?", visitor)[0].profile_id, profiles[0].profile_id);
});

test('valid events are stored even when their neighbours are rejected, each with a reason', async () => {
  const visitor = uniqueId('visitor');
  const good = [uniqueId('good'), uniqueId('good')];
  const body = {
    writeKey: WRITE_KEY,
    batch: [
      page(visitor, good[0]),
      { type: 'track', anonymousId: visitor, messageId: uniqueId('bad') },
      { type: 'track', event: 'Product Viewed', anonymousId: visitor, messageId: uniqueId('bad'), properties: {} },
      { type: 'page', messageId: uniqueId('bad') },
      'not an event',
      { type: 'page', anonymousId: visitor, messageId: good[0] },
      { type: 'track', event: 'Product Viewed', anonymousId: visitor, messageId: good[1], properties: { product_id: 1004 } },
    ],
  };
  const { status, body: verdict } = await postBatch(body);
  assert.equal(status, 200);
  assert.deepEqual(verdict.events.map((e) => e.reason ?? e.status),
    ['accepted', 'missing_event_name', 'missing_product_id', 'missing_identity', 'not_an_object', 'duplicate', 'accepted']);
  assert.ok(verdict.events[1].detail.includes('event'), 'rejections explain themselves');
  assert.deepEqual(stored(good).map((r) => r.message_id).sort(), [...good].sort());
});

test('malformed and oversized bodies get 400/413 with a reason, and the collector keeps serving', async () => {
  const malformed = await postBatch('{"batch": [', {});
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error, 'malformed_json');
  assert.match(malformed.body.message, /not valid JSON/);

  const notBatch = await postBatch({ writeKey: WRITE_KEY, events: [] });
  assert.equal(notBatch.status, 400);
  assert.equal(notBatch.body.error, 'missing_batch');

  const invalidUtf8 = await postBatch(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]));
  assert.equal(invalidUtf8.status, 400);
  assert.equal(invalidUtf8.body.error, 'invalid_utf8');

  const filler = 'x'.repeat(600 * 1024);
  const huge = await postBatch({ writeKey: WRITE_KEY, batch: [{ type: 'page', anonymousId: 'a', properties: { filler } }] });
  assert.equal(huge.status, 413);
  assert.equal(huge.body.error, 'batch_too_large');
  assert.match(huge.body.message, /limit is 512000/);

  const oneBigEvent = await postBatch({ writeKey: WRITE_KEY, batch: [{ type: 'page', anonymousId: 'a', messageId: uniqueId('big'), properties: { filler: 'y'.repeat(40 * 1024) } }] });
  assert.equal(oneBigEvent.status, 200);
  assert.equal(oneBigEvent.body.events[0].reason, 'event_too_large');

  const id = uniqueId('after');
  const after = await postBatch({ writeKey: WRITE_KEY, batch: [page(uniqueId('visitor'), id)] });
  assert.equal(after.status, 200);
  assert.equal(after.body.events[0].status, 'accepted');
  assert.equal(stored([id]).length, 1);
});

test('write keys: Segment-style Basic auth works; a missing or wrong key is refused with 401', async () => {
  const batch = (id) => ({ batch: [page(uniqueId('visitor'), id)] });
  const basic = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
  const viaHeader = await postBatch(batch(uniqueId('auth')), { authorization: basic });
  assert.equal(viaHeader.status, 200);
  assert.equal(viaHeader.body.accepted, 1);

  const missing = await postBatch(batch(uniqueId('auth')));
  assert.equal(missing.status, 401);
  assert.equal(missing.body.error, 'missing_key');

  const wrongId = uniqueId('auth');
  const wrong = await postBatch({ ...batch(wrongId), writeKey: 'not-the-key' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error, 'invalid_key');
  assert.equal(stored([wrongId]).length, 0, 'nothing stored without a valid key');
});

test('unknown endpoints and methods answer with JSON errors', async () => {
  const res = await fetch(`${BASE}/v1/nope`);
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error, 'not_found');
  const get = await fetch(`${BASE}/v1/batch`);
  assert.equal(get.status, 405);
});

test('corrected event time and late marks: an event queued offline for two days is stored and marked late', async () => {
  const now = Date.now();
  const day = 24 * 3600 * 1000;
  const [fresh, queued] = [uniqueId('fresh'), uniqueId('queued')];
  // The client clock runs an hour fast: timestamps and sentAt both carry the offset.
  const skew = 3600 * 1000;
  const iso = (ms) => new Date(ms).toISOString();
  const { body } = await postBatch({ writeKey: WRITE_KEY, sentAt: iso(now + skew), batch: [
    { ...page(uniqueId('visitor'), fresh), timestamp: iso(now + skew - 5000) },
    { ...page(uniqueId('visitor'), queued), timestamp: iso(now + skew - 2 * day) },
  ] });
  assert.equal(body.accepted, 2);
  const rows = Object.fromEntries(d1('SELECT message_id, event_time_ms, received_at_ms, late FROM events WHERE message_id IN (?, ?)', fresh, queued).map((r) => [r.message_id, r]));
  const offset = (r) => r.received_at_ms - r.event_time_ms;
  assert.ok(Math.abs(offset(rows[fresh]) - 5000) < 2000, `clock skew removed: ${offset(rows[fresh])}`);
  assert.ok(Math.abs(offset(rows[queued]) - 2 * day) < 2000);
  assert.equal(rows[fresh].late, 0);
  assert.equal(rows[queued].late, 1);
});

test('enrichment flags instead of dropping: browser, OS and a bot flag from the user agent', async () => {
  const chrome = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
  const googlebot = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
  const [person, crawler, driven] = [uniqueId('ua'), uniqueId('ua'), uniqueId('ua')];
  const { body } = await postBatch({ writeKey: WRITE_KEY, batch: [
    { ...page(uniqueId('visitor'), person), context: { userAgent: chrome } },
    { ...page(uniqueId('visitor'), crawler), context: { userAgent: googlebot } },
    { ...page(uniqueId('visitor'), driven), context: { userAgent: chrome, webdriver: true } },
  ] });
  assert.equal(body.accepted, 3, 'bots are stored, not dropped');
  const rows = Object.fromEntries(d1('SELECT message_id, browser, os, device, bot FROM events WHERE message_id IN (?, ?, ?)', person, crawler, driven).map((r) => [r.message_id, r]));
  assert.equal(rows[person].browser, 'Chrome');
  assert.match(rows[person].os, /^Windows/);
  assert.equal(rows[person].device, 'pc');
  assert.equal(rows[person].bot, 0);
  assert.equal(rows[crawler].bot, 1);
  assert.equal(rows[driven].bot, 1);
});

test('concurrent requests sharing one commit each get their own verdicts', async () => {
  // 60 requests at once: 40 distinct batches of 3 events, and 20 copies of one batch racing
  // each other. Each distinct event must be accepted by the request that carried it; of the 20
  // racing copies exactly one request stores the events and the others are told "duplicate".
  const distinct = Array.from({ length: 40 }, () => {
    const visitor = uniqueId('visitor');
    return [uniqueId('cc'), uniqueId('cc'), uniqueId('cc')].map((id) => page(visitor, id));
  });
  const raceVisitor = uniqueId('visitor');
  const race = [uniqueId('race'), uniqueId('race')].map((id) => page(raceVisitor, id));
  const send = (batch) => postBatch({ writeKey: WRITE_KEY, batch });
  const answers = await Promise.all([...distinct.map(send), ...Array.from({ length: 20 }, () => send(race))]);
  answers.forEach((a) => assert.equal(a.status, 200, a.text));
  answers.slice(0, 40).forEach((a, i) => {
    assert.deepEqual(
      a.body.events.map((e) => [e.messageId, e.status]),
      distinct[i].map((e) => [e.messageId, 'accepted']),
    );
  });
  const racing = answers.slice(40).map((a) => a.body.events.map((e) => e.status).join(','));
  assert.equal(racing.filter((s) => s === 'accepted,accepted').length, 1, racing.join(' | '));
  assert.equal(racing.filter((s) => s === 'duplicate,duplicate').length, 19, racing.join(' | '));
  const ids = [...distinct.flat(), ...race].map((e) => e.messageId);
  const rows = d1(`SELECT message_id, COUNT(*) AS n FROM events WHERE message_id IN (${ids.map(() => '?').join(',')}) GROUP BY message_id`, ...ids);
  assert.equal(rows.length, ids.length);
  assert.ok(rows.every((r) => r.n === 1));
});
