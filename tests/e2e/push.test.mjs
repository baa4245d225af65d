// Web push: the service worker, the VAPID key, subscriptions over HTTP, sending (encrypted per
// RFC 8291 and signed per RFC 8292) to a loopback push-service stand-in that DECRYPTS what it
// receives with the subscription's private key (Node's crypto), the decrypted message shown by
// the real service worker in Chromium, and the browser's subscribe flow as far as headless
// Chromium goes (it has no push service to reach).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createECDH, createDecipheriv, createPublicKey, hkdfSync, randomBytes, randomUUID, verify } from 'node:crypto';
import { ADMIN, BASE, WRITE_KEY, launch, d1, eventually, profile } from './helpers.mjs';

const b64u = (buf) => Buffer.from(buf).toString('base64url');

/** A browser-side key pair and auth secret, as a PushSubscription holds them. */
function browserKeys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { ecdh, p256dh: b64u(ecdh.getPublicKey()), auth: randomBytes(16) };
}

/** RFC 8291 decryption, written independently of the collector's Rust code. */
function decrypt(body, { ecdh, auth }) {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  assert.equal(idlen, 65);
  assert.ok(ciphertext.length <= rs, 'one record');
  const shared = ecdh.computeSecret(asPublic);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, auth, info, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end > 0 && padded[end] === 0) end--;
  assert.equal(padded[end], 2, 'last-record padding delimiter');
  return padded.subarray(0, end).toString('utf8');
}

/** Checks a VAPID `Authorization` header's ES256 signature and returns its claims and key. */
function checkVapid(header) {
  const m = /^vapid t=([\w-]+)\.([\w-]+)\.([\w-]+), k=([\w-]+)$/.exec(header);
  assert.ok(m, `vapid header shape: ${header}`);
  const [, h, c, s, k] = m;
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(point.subarray(1, 33)), y: b64u(point.subarray(33)) }, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${h}.${c}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
  assert.ok(ok, 'the VAPID token is signed by the key it names');
  assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url')), { typ: 'JWT', alg: 'ES256' });
  return { claims: JSON.parse(Buffer.from(c, 'base64url')), key: k };
}

/** The loopback push-service stand-in: records requests, answers `status` (201 by default). */
let pushService;
const received = [];
const answers = new Map();
before(async () => {
  pushService = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url, method: req.method, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(answers.get(req.url) ?? 201).end();
    });
  });
  await new Promise((r) => pushService.listen(0, '127.0.0.1', r));
});
after(() => pushService?.close());

const pushOrigin = () => `http://127.0.0.1:${pushService.address().port}`;

async function subscribe(body, headers = {}) {
  const res = await fetch(`${BASE}/v1/push/subscriptions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const sub = (endpoint, keys) => ({ endpoint, expirationTime: null, keys: { p256dh: keys.p256dh, auth: b64u(keys.auth) } });

test('the collector serves the service worker and the VAPID public key', async () => {
  const res = await fetch(`${BASE}/orbita-sw.js?k=${WRITE_KEY}`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/javascript/);
  assert.equal(res.headers.get('service-worker-allowed'), '/');
  const script = await res.text();
  assert.ok(script.includes('"Push Clicked"'), 'event name filled in from protocol');
  assert.ok(!/__[A-Z_]+__/.test(script), 'no placeholder left');

  const key = await (await fetch(`${BASE}/v1/push/vapid-public-key`)).json();
  const point = Buffer.from(key.publicKey, 'base64url');
  assert.equal(point.length, 65);
  assert.equal(point[0], 4);
});

test('subscriptions are validated with typed reasons, stored against the profile, and deleted', async () => {
  const keys = browserKeys();
  const anonymousId = randomUUID();
  const endpoint = `https://push.example.test/send/${randomUUID()}`;
  const bad = async (subscription, code, extra = {}) => {
    const res = await subscribe({ subscription, anonymousId, writeKey: WRITE_KEY, ...extra });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error, code);
  };
  await bad(sub('http://push.example.test/x', keys), 'endpoint_not_https');
  await bad(sub('javascript:alert(1)', keys), 'endpoint_not_https');
  await bad({ ...sub(endpoint, keys), keys: { p256dh: keys.p256dh.slice(0, 40), auth: b64u(keys.auth) } }, 'p256dh_wrong_length');
  await bad({ ...sub(endpoint, keys), keys: { p256dh: 'not base64!', auth: b64u(keys.auth) } }, 'p256dh_not_base64url');
  await bad({ ...sub(endpoint, keys), keys: { p256dh: keys.p256dh, auth: b64u(randomBytes(12)) } }, 'auth_wrong_length');
  await bad(sub(endpoint, keys), 'missing_identity', { anonymousId: '' });
  const noKey = await subscribe({ subscription: sub(endpoint, keys), anonymousId });
  assert.equal(noKey.status, 401);
  assert.equal((await subscribe('nonsense')).body.error, 'malformed_json');
  assert.equal(d1('SELECT COUNT(*) AS n FROM push_subscriptions WHERE endpoint = ?', endpoint)[0].n, 0);

  const ok = await subscribe({ subscription: sub(endpoint, keys), anonymousId, writeKey: WRITE_KEY });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  const visitor = await profile({ anonymousId });
  assert.equal(ok.body.profileId, visitor.body.profileId, 'stored against the visitor\'s profile');
  const [row] = d1('SELECT * FROM push_subscriptions WHERE endpoint = ?', endpoint);
  assert.equal(row.profile_id, visitor.body.profileId);
  assert.equal(row.p256dh, keys.p256dh);
  // Subscribing again (a key rotation) updates the row instead of adding one.
  const again = await subscribe({ subscription: sub(endpoint, browserKeys()), anonymousId, writeKey: WRITE_KEY });
  assert.equal(again.status, 201);
  assert.equal(d1('SELECT COUNT(*) AS n FROM push_subscriptions WHERE endpoint = ?', endpoint)[0].n, 1);

  const del = await fetch(`${BASE}/v1/push/subscriptions`, {
    method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ endpoint, writeKey: WRITE_KEY }),
  });
  assert.equal(del.status, 200);
  assert.equal((await del.json()).removed, 1);
  assert.equal(d1('SELECT COUNT(*) AS n FROM push_subscriptions WHERE endpoint = ?', endpoint)[0].n, 0);
});

test('a replaced subscription (pushsubscriptionchange) takes over its visitor, over HTTP and from the real service worker', async () => {
  const anonymousId = randomUUID();
  const old = `https://push.example.test/send/${randomUUID()}`;
  const first = await subscribe({ subscription: sub(old, browserKeys()), anonymousId, userId: `c-${anonymousId}`, writeKey: WRITE_KEY });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  const rowOf = (endpoint) => { const [r] = d1('SELECT anonymous_id, user_id, profile_id FROM push_subscriptions WHERE endpoint = ?', endpoint); return r && { ...r }; };

  // Unknown previous endpoint and no visitor: a typed refusal, nothing stored.
  const stray = `https://push.example.test/send/${randomUUID()}`;
  const unknown = await subscribe({ subscription: sub(stray, browserKeys()), previousEndpoint: `https://push.example.test/send/${randomUUID()}`, writeKey: WRITE_KEY });
  assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
  assert.equal(unknown.body.error, 'unknown_subscription');
  assert.equal(rowOf(stray), undefined);

  // Over HTTP: the new endpoint inherits the old one's visitor, customer and profile; the old row goes.
  const second = `https://push.example.test/send/${randomUUID()}`;
  const moved = await subscribe({ subscription: sub(second, browserKeys()), previousEndpoint: old, writeKey: WRITE_KEY });
  assert.equal(moved.status, 201, JSON.stringify(moved.body));
  assert.equal(moved.body.profileId, first.body.profileId);
  assert.deepEqual(rowOf(second), { anonymous_id: anonymousId, user_id: `c-${anonymousId}`, profile_id: first.body.profileId });
  assert.equal(rowOf(old), undefined, 'the replaced subscription is deleted');

  // From the real service worker: Chromium does not fire pushsubscriptionchange itself, so the
  // event is dispatched in the worker (untrusted: waitUntil is not exercised); the handler, its
  // request and the collector are real.
  const { context, close } = await launch();
  try {
    const page = await context.newPage();
    await page.goto(`${BASE}/`);
    await page.evaluate(async (k) => {
      await navigator.serviceWorker.register(`/orbita-sw.js?k=${k}&e=${encodeURIComponent(location.origin)}`, { scope: '/' });
      await navigator.serviceWorker.ready;
    }, WRITE_KEY);
    const worker = context.serviceWorkers().find((w) => w.url().includes('/orbita-sw.js'))
      ?? await context.waitForEvent('serviceworker');
    const third = `https://push.example.test/send/${randomUUID()}`;
    const keys = browserKeys();
    await worker.evaluate(([previous, next]) => {
      const event = new ExtendableEvent('pushsubscriptionchange');
      Object.defineProperty(event, 'oldSubscription', { value: { endpoint: previous, options: {} } });
      Object.defineProperty(event, 'newSubscription', { value: { endpoint: next.endpoint, toJSON: () => next } });
      self.dispatchEvent(event);
    }, [second, sub(third, keys)]);
    const row = await eventually(() => rowOf(third), 10_000, 'the new subscription stored by the service worker');
    assert.deepEqual(row, { anonymous_id: anonymousId, user_id: `c-${anonymousId}`, profile_id: first.body.profileId });
    assert.equal(rowOf(second), undefined);
  } finally {
    await close();
  }
});

let delivered; // the plaintext of the message the stand-in received, for the service worker test

test('a send is encrypted for the subscription and signed with VAPID; the stand-in decrypts it', async () => {
  const keys = browserKeys();
  const anonymousId = randomUUID();
  const endpoint = `${pushOrigin()}/push/${randomUUID()}`;
  const ok = await subscribe({ subscription: sub(endpoint, keys), anonymousId, writeKey: WRITE_KEY });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));

  const unauthorised = await fetch(`${BASE}/v1/admin/push/send`, { method: 'POST', body: '{}' });
  assert.equal(unauthorised.status, 401);
  const noTitle = await fetch(`${BASE}/v1/admin/push/send`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ profileId: ok.body.profileId }) });
  assert.equal((await noTitle.json()).error, 'invalid_field');
  const tooLong = await fetch(`${BASE}/v1/admin/push/send`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ profileId: ok.body.profileId, title: 'x', body: 'y'.repeat(4000) }) });
  assert.equal(tooLong.status, 413);
  assert.equal((await tooLong.json()).error, 'payload_too_large');

  const message = { title: 'Linen is back', body: 'The <b>Oat</b> throw — 20 % off today', url: '/p/LL-1001', icon: '/img/LL-1001.svg' };
  const res = await fetch(`${BASE}/v1/admin/push/send`, {
    method: 'POST', headers: ADMIN, body: JSON.stringify({ profileId: ok.body.profileId, ttl: 3600, urgency: 'high', ...message }),
  });
  const answer = await res.json();
  assert.equal(res.status, 200, JSON.stringify(answer));
  assert.equal(answer.sent, 1, JSON.stringify(answer));
  const [sent] = answer.messages;
  assert.equal(sent.status, 201);

  const request = received.find((r) => endpoint.endsWith(r.path));
  assert.ok(request, 'the push service stand-in received the message');
  assert.equal(request.method, 'POST');
  assert.equal(request.headers['content-encoding'], 'aes128gcm');
  assert.equal(request.headers.ttl, '3600');
  assert.equal(request.headers.urgency, 'high');
  const { claims, key } = checkVapid(request.headers.authorization);
  assert.equal(claims.aud, pushOrigin(), 'audience is the push service origin');
  assert.ok(claims.exp > Date.now() / 1000 && claims.exp <= Date.now() / 1000 + 24 * 3600);
  assert.match(claims.sub, /^mailto:/);
  const published = (await (await fetch(`${BASE}/v1/push/vapid-public-key`)).json()).publicKey;
  assert.equal(key, published, 'signed with the key browsers subscribe with');

  delivered = decrypt(request.body, keys);
  const payload = JSON.parse(delivered);
  assert.deepEqual(payload, { ...message, message_id: sent.messageId, anonymousId });
  assert.throws(() => decrypt(request.body, browserKeys()), 'another browser cannot read it');
  const [logged] = d1('SELECT status, profile_id FROM push_messages WHERE message_id = ?', sent.messageId);
  assert.deepEqual({ ...logged }, { status: 201, profile_id: ok.body.profileId });
});

test('a subscription the push service answers 410 Gone for is deleted', async () => {
  const keys = browserKeys();
  const path = `/push/${randomUUID()}`;
  answers.set(path, 410);
  const endpoint = `${pushOrigin()}${path}`;
  assert.equal((await subscribe({ subscription: sub(endpoint, keys), anonymousId: randomUUID(), writeKey: WRITE_KEY })).status, 201);
  const res = await fetch(`${BASE}/v1/admin/push/send`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ endpoint, title: 'Hi' }) });
  const answer = await res.json();
  assert.equal(answer.sent, 0);
  assert.equal(answer.messages[0].outcome, 'gone');
  assert.equal(d1('SELECT COUNT(*) AS n FROM push_subscriptions WHERE endpoint = ?', endpoint)[0].n, 0);
});

test('in Chromium: the service worker registers, shows a delivered message, and subscribing fails visibly without a push service', async () => {
  const { context, close } = await launch();
  try {
    await context.grantPermissions(['notifications'], { origin: BASE });
    const page = await context.newPage();
    const warnings = [];
    page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
    await page.goto(`${BASE}/`);
    await eventually(() => page.evaluate(() => typeof window.orbita.anonymousId === 'function'), 10_000, 'the tracker');
    const { publicKey } = await (await fetch(`${BASE}/v1/push/vapid-public-key`)).json();
    const result = await page.evaluate(async ([key, writeKey]) => {
      const m = await import('/orbita/widgets.js');
      await m.default({ module_or_path: '/orbita/widgets_bg.wasm' });
      const timeout = new Promise((r) => setTimeout(() => r({ outcome: 'timeout' }), 25_000));
      return Promise.race([m.subscribePush({ endpoint: location.origin, writeKey }, key, window.orbita), timeout]);
    }, [publicKey, WRITE_KEY]);
    console.log(`push subscribe in headless Chromium: ${JSON.stringify(result)}`);

    const registration = await page.evaluate(async () => {
      const r = await navigator.serviceWorker.getRegistration('/');
      return r && { scope: r.scope, script: (r.active || r.waiting || r.installing).scriptURL };
    });
    assert.equal(registration.scope, `${BASE}/`);
    assert.match(registration.script, /\/orbita-sw\.js\?k=demo-write-key&e=/);

    const anonymousId = await page.evaluate(() => window.orbita.anonymousId());
    if (result.outcome === 'subscribed') {
      // A browser build that reaches a push service: the subscription must be stored.
      assert.equal(d1('SELECT COUNT(*) AS n FROM push_subscriptions WHERE anonymous_id = ?', anonymousId)[0].n, 1);
    } else {
      assert.equal(result.outcome, 'failed', JSON.stringify(result));
      assert.match(result.reason, /^push_service: /);
      assert.ok(warnings.some((w) => w.includes('web push not subscribed')), `console warning: ${warnings}`);
      await page.evaluate(() => window.orbita('flush'));
      const [event] = await eventually(() => {
        const rows = d1(
          "SELECT json_extract(raw, '$.properties.reason') AS reason FROM events WHERE anonymous_id = ? AND event = 'Push Subscribe Failed'",
          anonymousId,
        );
        return rows.length && rows;
      }, 10_000, 'the Push Subscribe Failed event');
      assert.equal(event.reason, result.reason);
    }

    // Deliver the message the stand-in decrypted to the real service worker (DevTools protocol:
    // the same push event a push service would cause) and read the notification it shows.
    assert.ok(delivered, 'the send test ran first');
    const cdp = await context.newCDPSession(page);
    await cdp.send('ServiceWorker.enable');
    const versions = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => versions.push(...e.registrations));
    const registrationId = await eventually(() => versions.find((r) => r.scopeURL === `${BASE}/`)?.registrationId, 5_000, 'the registration ID');
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: BASE, registrationId, data: delivered });
    const shown = await eventually(() => page.evaluate(async () => {
      const r = await navigator.serviceWorker.getRegistration('/');
      const list = await r.getNotifications();
      return list.length && list.map((n) => ({ title: n.title, body: n.body, icon: n.icon, data: n.data, tag: n.tag }));
    }), 10_000, 'the notification');
    const payload = JSON.parse(delivered);
    assert.equal(shown[0].title, payload.title);
    assert.equal(shown[0].body, payload.body, 'shown as text, markup and all');
    assert.equal(shown[0].icon, `${BASE}${payload.icon}`);
    assert.equal(shown[0].tag, payload.message_id);
    assert.deepEqual(shown[0].data, { url: `${BASE}${payload.url}`, id: payload.message_id, aid: payload.anonymousId });

    // A click: Chromium has no way to click a notification from a test, so a notificationclick
    // event is dispatched in the real service worker (untrusted, so its waitUntil and
    // openWindow are not exercised); the worker's report to /v1/track is real.
    const worker = context.serviceWorkers().find((w) => w.url().includes('/orbita-sw.js'))
      ?? await context.waitForEvent('serviceworker');
    await worker.evaluate(async () => {
      const [notification] = await self.registration.getNotifications();
      self.dispatchEvent(new NotificationEvent('notificationclick', { notification }));
    });
    const [click] = await eventually(() => {
      const rows = d1("SELECT json_extract(raw, '$.properties') AS p FROM events WHERE anonymous_id = ? AND event = 'Push Clicked'", payload.anonymousId);
      return rows.length && rows;
    }, 10_000, 'the Push Clicked event');
    assert.deepEqual(JSON.parse(click.p), { message_id: payload.message_id, url: `${BASE}${payload.url}` });
  } finally {
    await close();
  }
});

test('in Chromium: a denied permission is the typed outcome "denied"', async () => {
  const { context, close } = await launch();
  try {
    const page = await context.newPage();
    await page.goto(`${BASE}/`);
    await eventually(() => page.evaluate(() => typeof window.orbita.anonymousId === 'function'), 10_000, 'the tracker');
    await page.evaluate(() => Notification.permission).then((p) => assert.notEqual(p, 'granted'));
    const { publicKey } = await (await fetch(`${BASE}/v1/push/vapid-public-key`)).json();
    const result = await page.evaluate(async ([key, writeKey]) => {
      const m = await import('/orbita/widgets.js');
      await m.default({ module_or_path: '/orbita/widgets_bg.wasm' });
      return m.subscribePush({ endpoint: location.origin, writeKey }, key, window.orbita);
    }, [publicKey, WRITE_KEY]);
    assert.deepEqual(result, { outcome: 'denied', reason: '' });
  } finally {
    await close();
  }
});
