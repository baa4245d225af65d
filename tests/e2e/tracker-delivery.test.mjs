// Delivery that never loses or doubles an event, in real Chromium against the real collector:
// the durable outbox (IndexedDB) shared by the site's tabs, one sending tab at a time (Web
// Locks), the keepalive flush when the page goes away, and nothing written without consent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { BASE, launch, d1, eventually, trackerLoaded, uniqueId } from './helpers.mjs';

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rows of the events carrying `marker` in their properties. */
const marked = (marker) =>
  d1("SELECT message_id, raw, timestamp_ms, sent_at_ms FROM events WHERE json_extract(raw, '$.properties.marker') = ?", marker);

/** Records every event the browser posts to /v1/batch: messageId → number of times sent. */
function countSends(context) {
  const sends = new Map();
  context.on('request', (request) => {
    if (!new URL(request.url()).pathname.startsWith('/v1/batch')) return;
    for (const event of JSON.parse(request.postData()).batch) {
      sends.set(event.messageId, (sends.get(event.messageId) || 0) + 1);
    }
  });
  return sends;
}

test('offline: 200 events over three page loads are all stored, once each, when back online', async () => {
  const { context, close } = await launch();
  try {
    // The shop's pages come through the test runner, so they still load while the browser is
    // offline. Chromium's offline emulation does not stop the keepalive requests of a page being
    // unloaded (nor can a route see them), so the first two loads send to a collector address
    // that drops every connection: what they send on unload is lost, as offline.
    const dead = createServer((socket) => socket.destroy());
    await new Promise((r) => dead.listen(0, '127.0.0.1', r));
    let endpoint = `http://127.0.0.1:${dead.address().port}`;
    await context.route(`${BASE}/**`, async (route) => {
      if (new URL(route.request().url()).pathname.startsWith('/v1/')) return route.continue();
      const original = await route.fetch();
      if (!(original.headers()['content-type'] || '').includes('text/html')) return route.fulfill({ response: original });
      const html = (await original.text()).replace('data-write-key=', `data-endpoint="${endpoint}" data-write-key=`);
      return route.fulfill({ response: original, body: html });
    });
    const page = await context.newPage();
    await page.goto(`${BASE}/cart`);
    await trackerLoaded(page);
    const marker = uniqueId('offline');
    const offlineAt = Date.now();
    await context.setOffline(true);
    for (let load = 0; load < 3; load++) {
      if (load === 2) endpoint = BASE; // the last load knows the real collector
      if (load > 0) {
        await page.reload();
        await trackerLoaded(page);
      }
      const count = load < 2 ? 67 : 66;
      await page.evaluate(({ marker, load, count }) => {
        for (let i = 0; i < count; i++) window.orbita('track', 'Offline Event', { marker, n: load * 67 + i });
      }, { marker, load, count });
      await pause(400); // the first sends fail while offline
    }
    assert.equal(marked(marker).length, 0, 'nothing reached the collector while offline');
    const offlineMs = Date.now() - offlineAt;
    dead.close();
    await context.setOffline(false);
    await eventually(() => marked(marker).length >= 200, 20_000, '200 events stored');
    await pause(1500); // any late resend would show up as a second row or a duplicate verdict
    const rows = marked(marker);
    assert.equal(rows.length, 200, 'exactly 200 stored');
    assert.equal(new Set(rows.map((r) => r.message_id)).size, 200, 'no event stored twice');
    const numbers = new Set(rows.map((r) => JSON.parse(r.raw).properties.n));
    assert.equal(numbers.size, 200, 'every one of the 200 calls is there');
    // Each event keeps its capture time; the batch says when it was sent.
    const first = rows.find((r) => JSON.parse(r.raw).properties.n === 0);
    assert.ok(first.sent_at_ms - first.timestamp_ms >= offlineMs - 2000,
      `sentAt is the send time, timestamp the capture time (${first.sent_at_ms - first.timestamp_ms} ms apart)`);
    // One session across the three loads, with a sequence number per event in capture order.
    const stamped = rows.map((r) => JSON.parse(r.raw)).sort((a, b) => a.properties.n - b.properties.n);
    assert.equal(new Set(stamped.map((e) => e.context.session.id)).size, 1, 'one session');
    for (let i = 1; i < stamped.length; i++) {
      assert.ok(stamped[i].context.session.seq > stamped[i - 1].context.session.seq, 'sequence follows capture order');
    }
  } finally {
    await close();
  }
});

test('three tabs tracking at once: each event is sent once and stored once', async () => {
  const { context, close } = await launch();
  try {
    const sends = countSends(context);
    const tabs = [];
    for (let i = 0; i < 3; i++) {
      const tab = await context.newPage();
      await tab.goto(`${BASE}/cart`);
      await trackerLoaded(tab);
      tabs.push(tab);
    }
    const marker = uniqueId('tabs');
    for (let round = 0; round < 8; round++) {
      await Promise.all(tabs.map((tab, t) => tab.evaluate(({ marker, t, round }) => {
        for (let i = 0; i < 5; i++) window.orbita('track', 'Tab Event', { marker, n: `${t}-${round}-${i}` });
      }, { marker, t, round })));
      await pause(120);
    }
    await eventually(() => marked(marker).length >= 120, 20_000, '120 events stored');
    await pause(1500);
    const rows = marked(marker);
    assert.equal(rows.length, 120, 'every event stored');
    assert.equal(new Set(rows.map((r) => JSON.parse(r.raw).properties.n)).size, 120, 'each one once');
    const ids = rows.map((r) => r.message_id);
    const sentTwice = ids.filter((id) => sends.get(id) !== 1);
    assert.deepEqual(sentTwice, [], 'one tab sends at a time: no event was sent twice');
  } finally {
    await close();
  }
});

test('an event fired right before leaving the site is stored (keepalive flush)', async () => {
  const { context, close } = await launch();
  try {
    const page = await context.newPage();
    await page.goto(`${BASE}/cart`);
    await trackerLoaded(page);
    await pause(500);
    const marker = uniqueId('leaving');
    // No later page of this site will run the tracker: only the flush on pagehide can send it.
    await page.evaluate((marker) => {
      window.orbita('track', 'Left Site', { marker });
      location.href = 'about:blank';
    }, marker);
    await page.waitForURL('about:blank');
    await eventually(() => marked(marker).length === 1, 10_000, 'the last event in D1');

    // Within the site: the flush and the next page may both send it; it is stored once.
    await page.goto(`${BASE}/cart`);
    await trackerLoaded(page);
    const next = uniqueId('next-page');
    await page.evaluate((marker) => {
      window.orbita('track', 'Left Page', { marker });
      location.href = '/p/LL-1003';
    }, next);
    await page.waitForURL('**/p/LL-1003');
    await eventually(() => marked(next).length === 1, 10_000, 'the event in D1');
    await pause(1500);
    assert.equal(marked(next).length, 1);
  } finally {
    await close();
  }
});

test('consent pending or denied: no cookie, no localStorage, no IndexedDB; withdrawal removes the outbox', async () => {
  const { context, close } = await launch();
  try {
    const page = await context.newPage();
    await page.route(`${BASE}/cart`, async (route) => {
      const original = await route.fetch();
      const html = (await original.text()).replace('data-write-key=', 'data-consent="required" data-write-key=');
      await route.fulfill({ response: original, body: html });
    });
    const written = async () => ({
      cookies: (await context.cookies(BASE)).map((c) => c.name),
      localStorage: await page.evaluate(() => Object.keys(localStorage)),
      indexedDB: await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name)),
    });
    const nothing = { cookies: [], localStorage: [], indexedDB: [] };
    await page.goto(`${BASE}/cart`);
    await trackerLoaded(page);
    const marker = uniqueId('consent');
    await page.evaluate((marker) => {
      for (let i = 0; i < 30; i++) window.orbita('track', 'Before Consent', { marker });
    }, marker);
    await pause(1200);
    assert.equal(await page.evaluate(() => window.orbita.consentState()), 'pending');
    assert.deepEqual(await written(), nothing, 'pending: nothing written');

    await page.evaluate(() => window.orbita('consent', 'denied'));
    await page.evaluate((marker) => window.orbita('track', 'After Denial', { marker }), marker);
    await pause(1200);
    assert.deepEqual(await written(), nothing, 'denied: nothing written');
    assert.equal(marked(marker).length, 0, 'nothing sent');

    // The same page once the visitor agrees: the outbox exists (so the probe above can see it)...
    await page.evaluate(() => window.orbita('consent', 'granted'));
    await page.evaluate((marker) => window.orbita('track', 'After Consent', { marker }), marker);
    await eventually(() => marked(marker).length === 1, 10_000, 'the event sent after consent');
    const granted = await written();
    assert.ok(granted.indexedDB.includes('orbita'), `the outbox is in IndexedDB: ${JSON.stringify(granted)}`);
    assert.ok(granted.cookies.includes('orb_aid'));
    // ...and withdrawing consent removes it with everything else.
    await page.evaluate(() => window.orbita('consent', 'denied'));
    await eventually(async () => (await written()).indexedDB.length === 0, 5_000, 'the outbox deleted');
    const after = await written();
    assert.deepEqual(after.localStorage, []);
    assert.deepEqual(after.cookies.filter((c) => c.startsWith('orb_')), []);
  } finally {
    await close();
  }
});
