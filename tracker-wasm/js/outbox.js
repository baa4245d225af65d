/* Orbita tracker: the durable outbox, shared by every tab of the site (imported by the wasm
   glue; see tracker-wasm/src/outbox.rs). Events (JSON text) wait here until the collector has
   answered them. IndexedDB when the browser allows it, else localStorage, else this tab's memory;
   all three keep rows as [key, json] in the order they were added. Nothing here runs before the
   visitor has consented: the first save opens (and so creates) the store. */
const NAME = 'orbita', STORE = 'outbox', KEY = 'orb_outbox';
let backend;
/* This tab's events not yet answered (key → JSON), at most a keepalive budget's worth, oldest
   first: what the tab sends when its page goes away. */
const own = new Map();
let ownBytes = 0;
/* Events handed to save() whose keys are not known yet (the write is under way). */
let saving = [];
const encoder = new TextEncoder();

/* The oldest rows of [keys, texts] that fit in `n` events and `bytes` of UTF-8 (always one). */
function fit([keys, texts], n, bytes) {
  let i = 0, size = 0;
  while (i < texts.length && i < n && (!i || size + encoder.encode(texts[i]).length < bytes)) {
    size += encoder.encode(texts[i++]).length + 1;
  }
  return [keys.slice(0, i), texts.slice(0, i)];
}

/* IndexedDB: one object store with auto-incremented keys (never reused, so a key names one event). */
function indexed(db) {
  const run = (mode, work) => new Promise((ok, fail) => {
    const t = db.transaction(STORE, mode), out = work(t.objectStore(STORE));
    t.oncomplete = () => ok(out());
    t.onerror = t.onabort = () => fail(t.error);
  });
  return {
    add: (list) => run('readwrite', (s) => { const r = list.map((e) => s.add(e)); return () => r.map((q) => q.result); }),
    read: (n) => run('readonly', (s) => { const k = s.getAllKeys(null, n), v = s.getAll(null, n); return () => [k.result, v.result]; }),
    remove: (keys) => run('readwrite', (s) => { keys.forEach((k) => s.delete(k)); return () => 0; }),
  };
}

/* The same rows as one JSON array in a text slot (localStorage, or a variable). Keys grow with the
   clock so a key is not reused after the list empties. */
function listed(get, set) {
  const load = () => { try { return JSON.parse(get()) || []; } catch (e) { return []; } };
  return {
    add: async (list) => {
      const rows = load();
      let key = rows.length ? rows[rows.length - 1][0] : 0;
      const keys = list.map((e) => { key = Math.max(key + 1, Date.now() * 1000); rows.push([key, e]); return key; });
      set(JSON.stringify(rows));
      return keys;
    },
    read: async (n) => { const rows = load().slice(0, n); return [rows.map((r) => r[0]), rows.map((r) => r[1])]; },
    remove: async (keys) => set(JSON.stringify(load().filter((r) => !keys.includes(r[0])))),
  };
}

function memory() {
  let text = null;
  return listed(() => text, (t) => { text = t; });
}

function store() {
  return backend || (backend = new Promise((ok, fail) => {
    const r = indexedDB.open(NAME, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE, { autoIncrement: true });
    r.onsuccess = () => {
      const db = r.result;
      /* Another tab deletes the database (consent withdrawn): let it. */
      db.onversionchange = () => { db.close(); backend = 0; };
      ok(indexed(db));
    };
    r.onerror = r.onblocked = fail;
  }).catch(() => {
    const ls = localStorage;
    ls.setItem(KEY, ls.getItem(KEY) || '[]');
    return listed(() => ls.getItem(KEY), (t) => ls.setItem(KEY, t));
  }).catch(memory));
}

/** Adds events (JSON texts); resolves to their keys. A store that fails is replaced by memory. */
export function save(list) {
  saving.push(...list);
  return store().then((s) => s.add(list)).catch(() => (backend = Promise.resolve(memory())).then((s) => s.add(list)))
    .then((keys) => {
      saving = saving.filter((t) => !list.includes(t));
      keys.forEach((k, i) => { own.set(k, list[i]); ownBytes += list[i].length; });
      for (const [k, text] of own) {
        if (ownBytes <= 65536) break;
        own.delete(k);
        ownBytes -= text.length;
      }
      return keys;
    });
}

/** This tab's unanswered events that fit in `bytes`: [keys, jsonTexts], oldest first; events
    still being written come last, without keys. */
export function mine(bytes) {
  return fit([[...own.keys()], [...own.values(), ...saving]], 1e9, bytes);
}

/** The oldest events of every tab, at most `n` of them and `bytes` of JSON (always one):
    resolves to [keys, jsonTexts]. */
export function read(n, bytes) {
  return store().then((s) => s.read(n)).then((rows) => fit(rows, n, bytes));
}

/** Removes answered events by key. */
export function remove(keys) {
  keys.forEach((k) => { if (own.has(k)) { ownBytes -= own.get(k).length; own.delete(k); } });
  return store().then((s) => s.remove(keys));
}

/** Waits for the site-wide sending lock (Web Locks API); resolves to the function that releases
    it. Closing the tab releases it too. Without Web Locks, resolves at once. */
export function lock() {
  return new Promise((ok) => {
    const locks = navigator.locks;
    locks ? locks.request(NAME, () => new Promise(ok)).catch(ok) : ok();
  });
}

/** Deletes the outbox from every store (consent withdrawn). */
export function forget() {
  backend = 0;
  own.clear();
  ownBytes = 0;
  saving = [];
  try { indexedDB.deleteDatabase(NAME); } catch (e) { /* no IndexedDB */ }
  try { localStorage.removeItem(KEY); } catch (e) { /* no localStorage */ }
}
