// The outbox's storage in real Chromium against the real collector: per-session sequence numbers
// shared by the tabs of a session, the localStorage fallback (safe for concurrent tabs) when
// IndexedDB is unavailable, the memory fallback when neither is, and the debug log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, d1, eventually, trackerLoaded, uniqueId } from './helpers.mjs';

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Stored events carrying `marker` in their properties, parsed. */
const marked = (marker) =>
  d1("SELECT raw FROM events WHERE json_extract(raw, '$.properties.marker') = ?", marker).map((r) => JSON.parse(r.raw));

/** How many stored events carry `marker`; 0 while the collector holds the database's write lock. */
const count = (marker) => { try { return marked(marker).length; } catch (e) { return 0; } };

/** Stored events of one session, parsed. */
const ofSession = (id) =>
  d1("SELECT raw FROM events WHERE json_extract(raw, '$.context.session.id') = ?", id).map((r) => JSON.parse(r.raw));

/** Makes IndexedDB (and, with `storage`, localStorage) unavailable to the site's pages. */
async function without(context, storage) {
  await context.addInitScript((storage) => {
    Object.defineProperty(window, 'indexedDB', { get() { throw new DOMException('blocked', 'SecurityError'); } });
    if (storage) Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('blocked', 'SecurityError'); } });
  }, storage);
}

/** Opens `n` tabs on the cart page with the tracker loaded. */
async function tabs(context, n) {
  const list = [];
  for (let i = 0; i < n; i++) {
    const tab = await context.newPage();
    await tab.goto(`${BASE}/cart`);
    await trackerLoaded(tab);
    list.push(tab);
  }
  return list;
}

/** Every tab fires `rounds` × 5 events at the same time; returns the marker. */
async function fire(list, rounds) {
  const marker = uniqueId('storage');
  for (let round = 0; round < rounds; round++) {
    await Promise.all(list.map((tab, t) => tab.evaluate(({ marker, t, round }) => {
      for (let i = 0; i < 5; i++) window.orbita('track', 'Tab Event', { marker, tab: t, n: round * 5 + i });
    }, { marker, t, round })));
    await pause(60);
  }
  return marker;
}

/** Each tab's events carry increasing numbers in capture order, and no number repeats in the session. */
function assertNumbered(events) {
  const sessions = new Set(events.map((e) => e.context.session.id));
  assert.equal(sessions.size, 1, 'the tabs share one session');
  const all = ofSession([...sessions][0]);
  const numbers = all.map((e) => e.context.session.seq);
  assert.ok(numbers.every((n) => Number.isInteger(n) && n > 0), 'every event is numbered');
  assert.equal(new Set(numbers).size, numbers.length, `no number repeats across tabs: ${numbers.sort((a, b) => a - b)}`);
  for (const t of new Set(events.map((e) => e.properties.tab))) {
    const mine = events.filter((e) => e.properties.tab === t).sort((a, b) => a.properties.n - b.properties.n);
    for (let i = 1; i < mine.length; i++) {
      assert.ok(mine[i].context.session.seq > mine[i - 1].context.session.seq, `tab ${t}: numbers follow capture order`);
    }
  }
}

test('two tabs of one session: sequence numbers are unique and increasing across the tabs', async () => {
  const { context, close } = await launch();
  try {
    const list = await tabs(context, 2);
    const marker = await fire(list, 6);
    await eventually(() => count(marker) >= 60, 20_000, '60 events stored');
    await pause(1000);
    const events = marked(marker);
    assert.equal(events.length, 60);
    assertNumbered(events);
  } finally {
    await close();
  }
});

test('no IndexedDB: the outbox falls back to localStorage, safe for three tabs writing at once', async () => {
  const { context, close } = await launch();
  try {
    await without(context, false);
    const list = await tabs(context, 3);
    assert.equal(await list[0].evaluate(() => { try { return typeof indexedDB; } catch (e) { return e.name; } }), 'SecurityError');
    const marker = await fire(list, 8);
    await eventually(() => count(marker) >= 120, 20_000, '120 events stored');
    await pause(1500);
    const events = marked(marker);
    assert.equal(events.length, 120, 'no event lost by tabs overwriting each other');
    assert.equal(new Set(events.map((e) => e.messageId)).size, 120, 'each stored once');
    assertNumbered(events);
    // The rows and counters lived in localStorage (the sent rows are gone, the counter stays).
    const stored = await list[0].evaluate(() => [localStorage.getItem('orb_outbox'), localStorage.getItem('orb_seq')]);
    assert.equal(stored[0], '[]', 'the outbox in localStorage is empty once everything was answered');
    assert.ok(Object.values(JSON.parse(stored[1])).some((n) => n >= 120), `the session counter is in localStorage: ${stored[1]}`);
  } finally {
    await close();
  }
});

test('no IndexedDB and no localStorage: events wait in memory and are delivered', async () => {
  const { context, close } = await launch();
  try {
    await without(context, true);
    // Debug queued before the tracker loads: the log shows the store chosen on the first write.
    await context.addInitScript(() => {
      window.orbita = function () { (window.orbita.q = window.orbita.q || []).push(arguments); };
      window.orbita('debug', true);
    });
    const logs = [];
    context.on('console', (m) => logs.push(m.text()));
    const [page] = await tabs(context, 1);
    const marker = uniqueId('memory');
    await page.evaluate((marker) => { for (let i = 0; i < 10; i++) window.orbita('track', 'Memory Event', { marker, n: i }); }, marker);
    await eventually(() => count(marker) >= 10, 10_000, '10 events stored');
    const events = marked(marker).sort((a, b) => a.properties.n - b.properties.n);
    assert.equal(events.length, 10);
    for (let i = 1; i < events.length; i++) assert.ok(events[i].context.session.seq > events[i - 1].context.session.seq);
    assert.equal(await page.evaluate(() => window.orbita.pendingEvents()), 0, 'nothing left once answered');
    assert.ok(logs.includes('orbita: outbox: memory'), `the memory store was used: ${logs.filter((l) => l.includes('outbox'))}`);
  } finally {
    await close();
  }
});

test("orbita('debug', true) logs each event, each batch and each verdict with its reason; off by default", async () => {
  const { context, close } = await launch();
  try {
    const [page] = await tabs(context, 1);
    const logs = [];
    page.on('console', (m) => logs.push({ type: m.type(), text: m.text() }));
    const quiet = uniqueId('quiet');
    await page.evaluate((marker) => window.orbita('track', 'Quiet Event', { marker }), quiet);
    await eventually(() => count(quiet) === 1, 10_000, 'the quiet event');
    await pause(300);
    assert.deepEqual(logs.filter((l) => l.type === 'log' && l.text.startsWith('orbita:')), [], 'debug is off by default');

    await page.evaluate(() => window.orbita.debug());
    const marker = uniqueId('debug');
    await page.evaluate((marker) => {
      window.orbita('track', 'Debug Event', { marker });
      window.orbita('track', 'x'.repeat(300), { marker }); // over the collector's name limit: rejected
      window.orbita('flush');
    }, marker);
    await eventually(() => logs.some((l) => l.text.includes('event rejected')), 10_000, 'the rejection in the console');
    await eventually(() => logs.some((l) => /orbita: event accepted: \S+/.test(l.text)), 5_000, 'the accepted verdict');
    const text = logs.map((l) => l.text).join('\n');
    assert.match(text, /^orbita: event (?!accepted|duplicate|rejected)/m, 'each event is logged');
    assert.match(text, /orbita: batch \d+ events/, 'each batch is logged');
    assert.match(text, /orbita: event rejected: \S+ too_long/, 'the rejection carries its reason');

    await page.evaluate(() => window.orbita('debug', false));
    logs.length = 0;
    const after = uniqueId('after');
    await page.evaluate((marker) => window.orbita('track', 'After Debug', { marker }), after);
    await eventually(() => count(after) === 1, 10_000, 'the event after debug');
    await pause(300);
    assert.deepEqual(logs.filter((l) => l.type === 'log'), [], 'debug off again');
  } finally {
    await close();
  }
});
