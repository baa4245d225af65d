// Shared helpers for the end-to-end tests. `cargo xtask test` starts the collector under
// `wrangler dev` with a fresh D1 state directory and passes both here through the environment.
import { chromium } from 'playwright-core';
import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests with \`cargo xtask test\``);
  return value;
}

export const BASE = required('ORBITA_BASE_URL');
export const WRITE_KEY = required('ORBITA_WRITE_KEY');
const STATE_DIR = required('ORBITA_STATE_DIR');

/** Headless Debian Chromium with a fresh profile, kept off the (closed) outside network. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'orbita-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const close = async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); };
  return { context, close };
}

/** Runs a read-only query against the collector's local D1 database file (SQLite). */
export function d1(sql, ...params) {
  const dir = join(STATE_DIR, 'v3', 'd1', 'miniflare-D1DatabaseObject');
  const file = readdirSync(dir).find((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
  if (!file) throw new Error(`no D1 database in ${dir}`);
  // The collector may be writing at this moment: wait for its lock rather than fail the read.
  for (let attempt = 0; ; attempt++) {
    const db = new DatabaseSync(join(dir, file), { readOnly: true });
    try {
      return db.prepare(sql).all(...params);
    } catch (e) {
      if (e.errcode !== 5 || attempt >= 50) throw e; // 5 = SQLITE_BUSY ("database is locked")
    } finally { db.close(); }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 40);
  }
}

/** Polls `probe` until it returns a truthy value or `ms` pass; returns the last value. */
export async function eventually(probe, ms = 10_000, what = 'condition') {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}; last value: ${JSON.stringify(last)}`);
}

/** POSTs a batch body to the collector and returns `{status, body}`. */
export async function postBatch(body, headers = {}) {
  const res = await fetch(`${BASE}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json, text };
}

/** A unique ID for test data, so tests never see each other's rows. */
export function uniqueId(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The visitor's anonymous-ID cookie in a browser context. */
export async function anonymousIdCookie(context) {
  const cookies = await context.cookies(BASE);
  return cookies.find((c) => c.name === 'orb_aid');
}

/** Headers with the demo admin key (edge-collector/wrangler.toml). */
export const ADMIN = { authorization: 'Bearer demo-admin-key' };

/** The profile an identifier belongs to, from the admin API: `{status, body}`. */
export async function profile(query) {
  const res = await fetch(`${BASE}/v1/profiles?${new URLSearchParams(query)}`, { headers: ADMIN });
  return { status: res.status, body: await res.json() };
}

/** Waits until the tracker has replaced the queue stub on `page`. */
export async function trackerLoaded(page) {
  await eventually(async () => page.evaluate(() => typeof window.orbita.pendingEvents === 'function'), 10_000, 'the tracker');
}

/** Records the page's layout-shift values in `window.__shifts` from its first paint on. */
export function watchLayoutShifts(page) {
  return page.addInitScript(() => {
    window.__shifts = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__shifts.push(e.value); })
      .observe({ type: 'layout-shift', buffered: true });
  });
}
