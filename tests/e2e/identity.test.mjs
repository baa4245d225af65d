// Identity graph, click tokens and GDPR export/erasure, against the real collector and D1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { ADMIN, BASE, WRITE_KEY, launch, d1, eventually, postBatch, profile, uniqueId, anonymousIdCookie } from './helpers.mjs';

// The demo secret from edge-collector/wrangler.toml: lets this test sign tokens independently
// of the collector's code, checking the documented format rather than trusting it.
const DEMO_SECRET = 'demo-click-token-secret';

const send = (...batch) => postBatch({ writeKey: WRITE_KEY, batch: batch.map((e) => ({ messageId: uniqueId('m'), ...e })) });
const ids = (p) => p.identities.map((i) => `${i.kind}:${i.value}`).sort();
const b64url = (s) => Buffer.from(s).toString('base64url');
const sign = (contact, expires, secret = DEMO_SECRET) => {
  const payload = `v1.${b64url(contact)}.${expires}`;
  return `${payload}.${createHmac('sha256', secret).update(payload).digest('base64url')}`;
};

test('identify joins the anonymous history to the customer, with email normalised', async () => {
  const device = randomUUID();
  const user = uniqueId('customer');
  await send({ type: 'page', anonymousId: device }, { type: 'track', event: 'Product Viewed', anonymousId: device, properties: { product_id: 'LL-1001' } });
  const anonymousOnly = await profile({ anonymousId: device });
  assert.equal(anonymousOnly.status, 200);
  assert.deepEqual(ids(anonymousOnly.body), [`anonymous:${device}`]);

  await send({ type: 'identify', anonymousId: device, userId: user, traits: { email: ' Ana.Doe@Example.COM ', phone: '+380 44 123 45 67' } });
  const known = await profile({ userId: user });
  assert.equal(known.body.profileId, anonymousOnly.body.profileId, 'the device profile became the customer profile');
  assert.deepEqual(ids(known.body), [`anonymous:${device}`, 'email:ana.doe@example.com', 'phone:+380441234567', `user:${user}`].sort());
  assert.equal(known.body.eventCount, 3, 'history from before the login is part of the profile');
  assert.equal((await profile({ email: 'ANA.DOE@example.com' })).body.profileId, known.body.profileId);
});

test('a second device of the same customer merges into the older profile', async () => {
  const [laptop, phone] = [randomUUID(), randomUUID()];
  const user = uniqueId('customer');
  await send({ type: 'identify', anonymousId: laptop, userId: user });
  await send({ type: 'page', anonymousId: phone });
  const phoneProfile = (await profile({ anonymousId: phone })).body.profileId;
  await send({ type: 'identify', anonymousId: phone, userId: user });
  const merged = (await profile({ userId: user })).body;
  assert.deepEqual(ids(merged), [`anonymous:${laptop}`, `anonymous:${phone}`, `user:${user}`].sort());
  assert.deepEqual(merged.mergedFrom, [phoneProfile]);
  // The merged profile's old ID still leads to the customer.
  const res = await fetch(`${BASE}/v1/profiles/${phoneProfile}`, { headers: ADMIN });
  assert.equal((await res.json()).profileId, merged.profileId);
});

test('two customers on one shared device are never merged', async () => {
  const shared = randomUUID();
  const [first, second] = [uniqueId('customer'), uniqueId('customer')];
  await send({ type: 'identify', anonymousId: shared, userId: first });
  await send({ type: 'identify', anonymousId: shared, userId: second });
  const a = (await profile({ userId: first })).body;
  const b = (await profile({ userId: second })).body;
  assert.notEqual(a.profileId, b.profileId);
  assert.deepEqual(ids(a), [`user:${first}`]);
  assert.deepEqual(ids(b), [`anonymous:${shared}`, `user:${second}`].sort(), 'the device moved to the customer now using it');
});

test('click tokens: an admin issues one; a valid one joins the device, forged or expired ones merge nothing', async () => {
  const contact = uniqueId('crm');
  const unauthorised = await fetch(`${BASE}/v1/admin/click-tokens`, { method: 'POST', body: JSON.stringify({ contactId: contact }) });
  assert.equal(unauthorised.status, 401);
  const issued = await (await fetch(`${BASE}/v1/admin/click-tokens`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ contactId: contact, ttlSeconds: 3600 }) })).json();
  assert.equal(issued.token, sign(contact, issued.expiresAt), 'the token is HMAC-SHA256 over the documented payload');
  assert.equal(issued.parameter, 'orb_ct');

  const redeem = (token, anonymousId) => fetch(`${BASE}/v1/click-token`, { method: 'POST', body: JSON.stringify({ token, anonymousId, writeKey: WRITE_KEY }) });
  const intruder = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const refusals = [
    [sign(contact, now + 3600, 'guessed-secret'), 'token_forged'],
    [issued.token.replace(`.${issued.expiresAt}.`, `.${issued.expiresAt + 1}.`), 'token_forged'],
    [sign(`${contact}x`, issued.expiresAt).replace(b64url(`${contact}x`), b64url(contact)), 'token_forged'],
    [sign(contact, now - 10), 'token_expired'],
    ['v1.not-a-token', 'token_malformed'],
  ];
  for (const [token, reason] of refusals) {
    const res = await redeem(token, intruder);
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error, reason);
  }
  assert.equal((await profile({ userId: contact })).status, 404, 'refused tokens created nothing');
  assert.equal((await profile({ anonymousId: intruder })).status, 404);

  const device = randomUUID();
  const ok = await redeem(issued.token, device);
  assert.equal(ok.status, 200);
  const joined = (await profile({ userId: contact })).body;
  assert.deepEqual(ids(joined), [`anonymous:${device}`, `user:${contact}`].sort());
});

test('a click-token link in the browser: the parameter leaves the address bar and the device joins the contact', async () => {
  const browser = await launch();
  try {
    const contact = uniqueId('crm');
    const { token } = await (await fetch(`${BASE}/v1/admin/click-tokens`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ contactId: contact }) })).json();
    const page = await browser.context.newPage();
    await page.goto(`${BASE}/p/LL-1005?utm_source=email&orb_ct=${token}`);
    await eventually(async () => !page.url().includes('orb_ct'), 10_000, 'the token to leave the URL');
    assert.ok(page.url().endsWith('/p/LL-1005?utm_source=email'), page.url());
    const { value: device } = await anonymousIdCookie(browser.context);
    const joined = await eventually(async () => {
      const p = await profile({ userId: contact });
      return p.status === 200 && ids(p.body).includes(`anonymous:${device}`) && p.body;
    }, 10_000, 'the device in the contact profile');
    // Page and product views recorded on the landing page belong to the contact.
    await eventually(async () => (await profile({ userId: contact })).body.events.some((e) => e.event === 'Product Viewed'), 10_000, 'the product view');
    const views = d1("SELECT raw FROM events WHERE anonymous_id = ? AND type = 'page'", device).map((r) => JSON.parse(r.raw));
    assert.ok(views.length >= 1 && views.every((v) => !v.context.page.url.includes('orb_ct')), 'the token never reaches stored URLs');
    assert.ok(joined.profileId);
  } finally {
    await browser.close();
  }
});

test('GDPR: export lists everything tied to a profile; erasure removes it all', async () => {
  const [device, user, phone] = [randomUUID(), uniqueId('leaving'), randomUUID()];
  await send({ type: 'page', anonymousId: device }, { type: 'identify', anonymousId: device, userId: user, traits: { email: 'leaving@example.com' } });
  await send({ type: 'track', event: 'Signed Up', userId: user });
  // A newsletter form on the laptop (the site configuration gets a form for it, then is put
  // back as it was), and push on the phone, which logs in later: its profile merges in.
  const [stored] = d1('SELECT config FROM site_configs');
  const withForm = { ...(stored ? JSON.parse(stored.config) : {}) };
  withForm.widgets = [...(withForm.widgets ?? []), {
    id: 'erasure-letter', kind: 'embedded', rules: { urlInclude: ['/erasure-test'] }, texts: { consent: 'Email me.' },
    fields: [{ name: 'email', type: 'email', label: 'Email', required: true }],
  }];
  const putConfig = (config) => fetch(`${BASE}/v1/admin/site-config`, {
    method: 'PUT', headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify(config),
  });
  assert.equal((await putConfig(withForm)).status, 200);
  try {
    const form = await fetch(`${BASE}/v1/subscribe`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ writeKey: WRITE_KEY, widgetId: 'erasure-letter', anonymousId: device, consent: true, fields: { email: 'leaving@example.com' } }),
    });
    assert.equal(form.status, 200, await form.text());
  } finally {
    if (stored) assert.equal((await putConfig(JSON.parse(stored.config))).status, 200);
  }
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const endpoint = `https://push.example.test/send/${randomUUID()}`;
  const push = await fetch(`${BASE}/v1/push/subscriptions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ writeKey: WRITE_KEY, anonymousId: phone, subscription: { endpoint, keys: { p256dh: ecdh.getPublicKey('base64url'), auth: randomBytes(16).toString('base64url') } } }),
  });
  assert.equal(push.status, 201, await push.text());
  await send({ type: 'identify', anonymousId: phone, userId: user });
  const exported = (await profile({ userId: user })).body;
  assert.equal(exported.eventCount, 4);
  assert.ok(exported.events.every((e) => [device, phone].includes(e.anonymousId) || e.userId === user));
  assert.deepEqual(exported.subscriptions.map((s) => [s.channel, s.address, s.widgetId]), [['email', 'leaving@example.com', 'erasure-letter']]);
  assert.equal(exported.consentRecords.length, 1);
  assert.equal(exported.consentRecords[0].consentText, 'Email me.');
  assert.deepEqual(exported.pushSubscriptions.map((s) => s.endpoint), [endpoint], 'the phone\'s, merged in');

  assert.equal((await fetch(`${BASE}/v1/profiles/${exported.profileId}`, { method: 'DELETE' })).status, 401, 'admin key required');
  const erased = await (await fetch(`${BASE}/v1/profiles/${exported.profileId}`, { method: 'DELETE', headers: ADMIN })).json();
  assert.equal(erased.eventsDeleted, 4);
  assert.equal(erased.profilesDeleted, 2, JSON.stringify(erased));
  assert.equal(erased.subscriptionsDeleted, 1);
  assert.equal(erased.pushSubscriptionsDeleted, 1);
  assert.equal(d1('SELECT COUNT(*) AS n FROM events WHERE anonymous_id IN (?, ?) OR user_id = ?', device, phone, user)[0].n, 0);
  assert.equal(d1("SELECT COUNT(*) AS n FROM identities WHERE value IN (?, ?, ?, 'leaving@example.com')", device, phone, user)[0].n, 0);
  assert.equal(d1("SELECT COUNT(*) AS n FROM subscriptions WHERE address = 'leaving@example.com'")[0].n, 0, 'the address is gone');
  assert.equal(d1('SELECT COUNT(*) AS n FROM consent_records WHERE profile_id = ?', exported.profileId)[0].n, 0);
  assert.equal(d1('SELECT COUNT(*) AS n FROM push_subscriptions WHERE endpoint = ?', endpoint)[0].n, 0);
  assert.equal((await profile({ userId: user })).status, 404);
});
