// Consent in real Chromium: with consent required, nothing is written or sent until granted;
// denied (or Global Privacy Control, when the shop honours it) means nothing ever is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, d1, eventually, trackerLoaded } from './helpers.mjs';

/** Opens the cart page with extra attributes on the tracker's script tag. */
async function openWith(attributes, { gpc = false } = {}) {
  const browser = await launch();
  const page = await browser.context.newPage();
  const sent = [];
  page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/v1/batch')) sent.push(r); });
  await page.route(`${BASE}/cart`, async (route) => {
    const original = await route.fetch();
    const html = (await original.text()).replace('data-write-key=', `${attributes} data-write-key=`);
    await route.fulfill({ response: original, body: html });
  });
  if (gpc) await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
  await page.goto(`${BASE}/cart`);
  await trackerLoaded(page);
  const storage = async () => ({
    cookies: (await browser.context.cookies(BASE)).filter((c) => c.name.startsWith('orb_')).map((c) => c.name),
    local: await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('orb_'))),
  });
  return { browser, page, sent, storage };
}

const settle = () => new Promise((r) => setTimeout(r, 1200));

test('consent required: nothing written or sent until granted; then the waiting events are sent', async () => {
  const { browser, page, sent, storage } = await openWith('data-consent="required"');
  try {
    assert.equal(await page.evaluate(() => window.orbita.consentState()), 'pending');
    const marker = `consent-${Date.now()}`;
    await page.evaluate((m) => {
      window.orbita('identify', 'crm-consent', { email: 'consent@example.com' });
      window.orbita('track', 'Newsletter Viewed', { marker: m });
    }, marker);
    await settle();
    assert.equal(sent.length, 0, 'nothing sent before consent');
    assert.deepEqual(await storage(), { cookies: [], local: [] }, 'nothing written before consent');

    await page.evaluate(() => window.orbita('consent', 'granted'));
    const stored = await eventually(
      () => d1("SELECT raw FROM events WHERE event = 'Newsletter Viewed' AND json_extract(raw, '$.properties.marker') = ?", marker)[0],
      10_000, 'the held event');
    const event = JSON.parse(stored.raw);
    assert.equal(event.context.consent.tracking, 'granted');
    assert.equal(event.userId, 'crm-consent');
    const { cookies } = await storage();
    assert.ok(cookies.includes('orb_aid'));
    assert.ok(cookies.includes('orb_ses'), 'the session held in memory is written once consent is given');
    assert.equal(event.anonymousId, await page.evaluate(() => window.orbita.anonymousId()));
    const pages = d1("SELECT raw FROM events WHERE anonymous_id = ? AND type = 'page'", event.anonymousId);
    assert.equal(pages.length, 1, 'the page view captured before consent was sent too');
  } finally {
    await browser.close();
  }
});

test('consent denied: nothing is ever written or sent', async () => {
  const { browser, page, sent, storage } = await openWith('data-consent="required"');
  try {
    await page.evaluate(() => {
      window.orbita('track', 'Before Denial', {});
      window.orbita('consent', 'denied');
      window.orbita('track', 'After Denial', {});
      window.orbita('identify', 'crm-denied', {});
    });
    await settle();
    assert.equal(await page.evaluate(() => window.orbita.consentState()), 'denied');
    assert.equal(sent.length, 0);
    assert.deepEqual(await storage(), { cookies: [], local: [] });
    assert.equal(d1("SELECT COUNT(*) AS n FROM events WHERE event IN ('Before Denial', 'After Denial')")[0].n, 0);
  } finally {
    await browser.close();
  }
});

test('Global Privacy Control is honoured when the shop turns that on', async () => {
  const { browser, page, sent, storage } = await openWith('data-respect-gpc="on"', { gpc: true });
  try {
    assert.equal(await page.evaluate(() => window.orbita.consentState()), 'denied');
    await page.evaluate(() => window.orbita('track', 'Under GPC', {}));
    await settle();
    assert.equal(sent.length, 0);
    assert.deepEqual(await storage(), { cookies: [], local: [] });
  } finally {
    await browser.close();
  }
});
