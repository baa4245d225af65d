/* Orbita tracker: the durable outbox shared by every tab of the site, and delivery to the
   collector (imported by the wasm glue; see tracker-wasm/src/outbox.rs). Events (JSON text) wait
   here until the collector has answered them. IndexedDB when the browser allows it, else
   localStorage (every read-modify-write under a Web Lock, so tabs never overwrite each other),
   else this tab's memory; all three keep rows as [key, json] in the order they were added, and
   number each event within its session when it is written (`context.session.seq`), from a
   counter kept in the same store and transaction, so tabs of one session never repeat a number.
   Nothing here runs before the visitor has consented: the first save opens (and so creates) the
   store, and nothing is sent before `start`.

   One tab at a time holds the lock `orbita`, reads the oldest events of every tab, sends them and
   removes them once the collector answered (2xx, or a definitive 4xx); errors, 5xx, 408 and 429
   release the lock and back off (exponential, jittered, at least `Retry-After`). When the page is
   hidden or closed, the tab sends its own unanswered events as one keepalive request. */
const NAME = 'orbita', STORE = 'outbox', META = 'meta', KEY = 'orb_outbox', SEQ = 'orb_seq';
let backend;
/* Settings from `start` (consent granted): {url, key, events, bytes, max, names: {batch, sentAt,
   writeKey, seq}}; 0 before. */
let to = 0;
let debugging = false;
/* This tab's events not yet answered (key → JSON), at most a keepalive budget's worth, oldest
   first: what the tab sends when its page goes away. */
const own = new Map();
let ownBytes = 0;
/* Events handed to save() and not yet written (queued for the next microtask, then being written). */
let queued = [], saving = [];
/* Delivery state: sending (holds or waits for the lock), again (look again when done), timer,
   failures in a row, bytes of keepalive requests in flight, listeners added. */
let sending = 0, again = 0, timer = 0, failures = 0, keepalive = 0, listening = 0;
const encoder = new TextEncoder();
const bytes = (text) => encoder.encode(text).length;
const warn = (...a) => console.warn('orbita:', ...a);
const log = (...a) => debugging && console.log('orbita:', ...a);

/* The oldest rows of [keys, texts] that fit in `n` events and `max` bytes of UTF-8 (always one). */
function fit([keys, texts], n, max) {
  let i = 0, size = 0;
  while (i < texts.length && i < n && (!i || size + bytes(texts[i]) < max)) size += bytes(texts[i++]) + 1;
  return [keys.slice(0, i), texts.slice(0, i)];
}

/* Numbers an event within its session from `counters` (session ID → last number), which keeps the
   eight most recent sessions. Returns the event's JSON. */
function number(text, counters) {
  try {
    const event = JSON.parse(text), session = event.context && event.context.session;
    if (!session || !session.id || !to) return text;
    /* Never below the number this tab gave it (from the session cookie): an event sent by the
       keepalive request of a page closed before its write carries that number only. */
    const n = Math.max((counters[session.id] || 0) + 1, +session[to.names.seq] || 0);
    delete counters[session.id];
    counters[session.id] = session[to.names.seq] = n;
    const ids = Object.keys(counters);
    ids.slice(0, ids.length - 8).forEach((id) => delete counters[id]);
    return JSON.stringify(event);
  } catch (e) {
    return text;
  }
}

/* IndexedDB: the events in one object store with auto-incremented keys (never reused, so a key
   names one event), the session counters in another, written in the same transaction. */
function indexed(db) {
  const run = (mode, work) => new Promise((ok, fail) => {
    const t = db.transaction([STORE, META], mode);
    let out;
    work(t.objectStore(STORE), t.objectStore(META), (f) => { out = f; });
    t.oncomplete = () => ok(out && out());
    t.onerror = t.onabort = () => fail(t.error);
  });
  return {
    add: (list) => run('readwrite', (s, m, done) => {
      const r = m.get(SEQ);
      r.onsuccess = () => {
        const counters = r.result || {}, texts = list.map((e) => number(e, counters));
        m.put(counters, SEQ);
        const added = texts.map((e) => s.add(e));
        done(() => [added.map((q) => q.result), texts]);
      };
    }),
    read: (n) => run('readonly', (s, m, done) => {
      const k = s.getAllKeys(null, n), v = s.getAll(null, n);
      done(() => [k.result, v.result]);
    }),
    remove: (keys) => run('readwrite', (s) => keys.forEach((k) => s.delete(k))),
  };
}

/* The same rows as one JSON array in a text slot (localStorage, or a variable), the counters in
   another; `exclusive` runs each read-modify-write alone. Keys grow with the clock so a key is
   not reused after the list empties. */
function listed(get, set, exclusive) {
  const load = (k) => { try { return JSON.parse(get(k)); } catch (e) { return null; } };
  const rows = () => load(KEY) || [];
  return {
    add: (list) => exclusive(() => {
      const all = rows(), counters = load(SEQ) || {}, texts = list.map((e) => number(e, counters));
      let key = all.length ? all[all.length - 1][0] : 0;
      const keys = texts.map((e) => { key = Math.max(key + 1, Date.now() * 1000); all.push([key, e]); return key; });
      set(KEY, JSON.stringify(all));
      set(SEQ, JSON.stringify(counters));
      return [keys, texts];
    }),
    read: (n) => exclusive(() => { const all = rows().slice(0, n); return [all.map((r) => r[0]), all.map((r) => r[1])]; }),
    remove: (keys) => exclusive(() => set(KEY, JSON.stringify(rows().filter((r) => !keys.includes(r[0]))))),
  };
}

/* This tab's memory: the last resort (no other tab sees it). */
function memory() {
  const slots = {};
  return listed((k) => slots[k], (k, v) => { slots[k] = v; }, async (f) => f());
}

function store() {
  return backend || (backend = new Promise((ok, fail) => {
    const r = indexedDB.open(NAME, 2);
    r.onupgradeneeded = () => {
      const db = r.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { autoIncrement: true });
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
    };
    r.onsuccess = () => {
      const db = r.result;
      /* Another tab deletes the database (consent withdrawn): let it. */
      db.onversionchange = () => { db.close(); backend = 0; };
      ok(indexed(db));
    };
    r.onerror = r.onblocked = fail;
  }).then((s) => (log('outbox: IndexedDB'), s)).catch(() => {
    const ls = localStorage, locks = navigator.locks;
    ls.setItem(KEY, ls.getItem(KEY) || '[]');
    log('outbox: localStorage');
    /* Chromium keeps a copy of localStorage in each tab's process and tells the others of a
       write asynchronously: the lock is held a few milliseconds after a write, so the next
       holder reads it (measured: without the wait, tabs repeated sequence numbers). */
    return listed((k) => ls.getItem(k), (k, v) => ls.setItem(k, v), (f) => (locks
      ? locks.request(NAME + ':storage', () => { const out = f(); return new Promise((ok) => setTimeout(ok, 20, out)); })
      : Promise.resolve().then(f)));
  }).catch(() => (log('outbox: memory'), memory())));
}

/** Takes one event (JSON text) into the outbox; events taken in one task are written together,
    on the next microtask, then sent a short moment later. */
export function save(text) {
  if (to && bytes(text) > to.max) {
    warn('event not sent, bytes over the limit:', bytes(text), to.max);
    return;
  }
  if (!queued.push(text) - 1) queueMicrotask(write);
}

function write() {
  const list = queued;
  queued = [];
  saving.push(...list);
  return store().then((s) => s.add(list)).catch(() => (backend = Promise.resolve(memory())).then((s) => s.add(list)))
    .then(([keys, texts]) => {
      saving = saving.filter((t) => !list.includes(t));
      keys.forEach((k, i) => { own.set(k, texts[i]); ownBytes += texts[i].length; });
      for (const [k, text] of own) {
        if (ownBytes <= 65536) break;
        own.delete(k);
        ownBytes -= text.length;
      }
      schedule(250);
    });
}

/* This tab's unanswered events that fit in `max` bytes: [keys, jsonTexts], oldest first; events
   still being written come last, without keys. */
function mine(max) {
  return fit([[...own.keys()], [...own.values(), ...saving, ...queued]], 1e9, max);
}

/** Number of events this tab handed over that it has not seen answered. */
export function pending() {
  return mine(1e12)[1].length;
}

function remove(keys) {
  keys.forEach((k) => { if (own.has(k)) { ownBytes -= own.get(k).length; own.delete(k); } });
  return store().then((s) => s.remove(keys));
}

/* Waits for the site-wide sending lock (Web Locks API); resolves to the function that releases it.
   Closing the tab releases it too. Without Web Locks, resolves at once. */
function lock() {
  return new Promise((ok) => {
    const locks = navigator.locks;
    locks ? locks.request(NAME, () => new Promise(ok)).catch(ok) : ok();
  });
}

/** Starts delivery (consent granted): `settings` is {url, key, events, bytes, max, names}. */
export function start(settings) {
  to = settings;
  if (!listening) {
    listening = 1;
    const hide = () => document.visibilityState === 'hidden' && sendMine();
    addEventListener('pagehide', hide);
    document.addEventListener('visibilitychange', hide);
    addEventListener('online', () => deliver());
  }
  schedule(250);
}

/** Sends what the outbox holds now (`orbita('flush')`). (The build renames exports where they
    are defined, so code here never calls an exported function.) */
export function flush() {
  deliver();
}

/** Logs events, batches and the collector's verdicts to the console (`orbita('debug', true)`). */
export function debug(on) {
  debugging = on;
}

/** Logs a captured event when debugging. */
export function captured(event) {
  log('event', event);
}

function schedule(ms) {
  if (!timer) timer = setTimeout(() => { timer = 0; deliver(); }, ms);
}

/* Sends what the outbox holds, batch by batch, holding the lock, until it is empty or a batch
   must be retried. */
function deliver() {
  if (!to) return;
  if (sending) { again = 1; return; }
  sending = 1;
  again = 0;
  lock().then((release) => drain().catch(() => 0).then((wait) => {
    if (release) release();
    sending = 0;
    if (wait < 0) {
      failures = 0;
      if (again) deliver();
      return;
    }
    failures++;
    const backoff = Math.min(1000 * 2 ** Math.min(failures, 6), 60000) * (0.5 + Math.random());
    log('retry in', Math.round(Math.max(wait, backoff)), 'ms');
    schedule(Math.max(wait, backoff));
  }));
}

/* Resolves to -1 once the outbox is empty, else to the least wait (ms) before a retry. */
async function drain() {
  for (;;) {
    if (!to) return -1;
    const [keys, texts] = await store().then((s) => s.read(to.events)).then((rows) => fit(rows, to.events, to.bytes));
    if (!texts.length) return -1;
    const wait = await send(texts, false);
    if (wait >= 0) return wait;
    await remove(keys);
  }
}

/* The page is going away: sends this tab's unanswered events at once, as one keepalive request
   within the page's budget. They stay in the outbox until answered. */
function sendMine() {
  if (!to) return;
  const [keys, texts] = mine(to.bytes);
  if (texts.length) send(texts, true).then((wait) => wait < 0 && remove(keys));
}

/* Posts one batch; resolves to -1 when the collector answered (the events are settled: stored,
   duplicate or rejected), else to the least wait before a retry. `keepalive` requests may outlive
   the page; a request only gets it while the page's 64 KiB keepalive budget has room, and
   `unloading` sends nothing without it (it would die with the page). */
async function send(texts, unloading) {
  const n = to.names;
  const body = `{"${n.batch}":[${texts.join(',')}],"${n.sentAt}":"${new Date().toISOString()}","${n.writeKey}":${JSON.stringify(to.key)}}`;
  const size = bytes(body), alive = keepalive + size <= 65536;
  if (unloading && !alive) return 0;
  if (alive) keepalive += size;
  log(unloading ? 'batch (page hidden)' : 'batch', texts.length, 'events', JSON.parse(body));
  let res;
  try {
    /* A text/plain body: no CORS preflight. */
    res = await fetch(to.url, { method: 'POST', body, keepalive: alive });
  } catch (e) {
    log('batch not delivered:', e);
    return 0;
  } finally {
    if (alive) keepalive -= size;
  }
  const status = res.status;
  if (status === 429 || status === 408 || status >= 500) {
    log('collector busy:', status);
    return 1000 * (parseInt(res.headers.get('retry-after'), 10) || 0);
  }
  const answer = await res.json().catch(() => ({}));
  if (status >= 300) {
    warn('collector refused the batch:', status, answer.error, answer.message);
    return -1;
  }
  for (const v of answer.events || []) {
    /* Rejected events are not retried (the same bytes would be rejected again). */
    if (v.status === 'rejected') warn('event rejected:', v.messageId, v.reason, v.detail);
    else log('event', v.status + ':', v.messageId);
  }
  return -1;
}

/** Posts one JSON text to `url` with keepalive (the click token); warns when it is refused. */
export function post(url, text) {
  fetch(url, { method: 'POST', body: text, keepalive: true })
    .then((r) => r.ok || warn('click token refused:', r.status), (e) => warn('click token not delivered:', e));
}

/* Page events reach the tracker through the page's global function, under internal command names
   (a Rust callback would cost a closure shim and the closure runtime in the wasm and the glue). */
const tell = (name) => () => window.orbita(name);

/** Watches single-page-app navigation: `orbita('_moved')` after `history.pushState` and
    `replaceState`, on back/forward (`popstate`) and, when the site routes by fragment, on
    `hashchange` (the tracker sends a page view only if the route changed). */
export function watch(hashRouting) {
  const moved = tell('_moved');
  for (const method of ['pushState', 'replaceState']) {
    const original = history[method];
    if (typeof original === 'function') {
      history[method] = function () {
        const result = original.apply(this, arguments);
        moved();
        return result;
      };
    }
  }
  addEventListener('popstate', moved);
  if (hashRouting) addEventListener('hashchange', moved);
}

/** `orbita('_parsed')` once the document is parsed. */
export function whenParsed() {
  document.addEventListener('DOMContentLoaded', tell('_parsed'));
}

/** Stops delivery and deletes the outbox from every store (consent withdrawn or not given). */
export function forget() {
  to = 0;
  backend = 0;
  own.clear();
  ownBytes = 0;
  queued = [];
  saving = [];
  try { indexedDB.deleteDatabase(NAME); } catch (e) { /* no IndexedDB */ }
  try { localStorage.removeItem(KEY); localStorage.removeItem(SEQ); } catch (e) { /* no localStorage */ }
}
