// Load generator for the kill test (`cargo xtask kill-test`, also part of `cargo xtask test`).
// Sends KILL_TEST_EVENTS events in batches of 50, several requests in flight, retrying every
// batch until the collector answers it, exactly as a client that never gives up would. Meanwhile
// xtask SIGKILLs workerd and restarts it at the progress marks this script prints. At the end it
// checks D1 itself: every event the collector acknowledged is stored, once.
import { randomUUID } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const BASE = process.env.ORBITA_BASE_URL;
const WRITE_KEY = process.env.ORBITA_WRITE_KEY;
const STATE_DIR = process.env.ORBITA_STATE_DIR;
const TOTAL = Number(process.env.KILL_TEST_EVENTS || 100_000);
const IN_FLIGHT = 6;
const BATCH = 50;
const run = `kill-${Date.now().toString(36)}`;

let next = 0;
let sent = 0;
let retries = 0;
const verdicts = { accepted: 0, duplicate: 0, rejected: 0 };
const acknowledged = new Set();
let nextMark = 0.1;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function deliver(body, size) {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      const res = await fetch(`${BASE}/v1/batch`, { method: 'POST', body, signal: AbortSignal.timeout(20_000) });
      if (res.status === 200) {
        const answer = await res.json();
        if (answer.events.length !== size) throw new Error(`expected ${size} verdicts, got ${answer.events.length}`);
        return answer.events;
      }
      await res.body?.cancel();
    } catch (e) {
      if (e.message?.startsWith('expected')) throw e;
    }
    retries += 1;
    if (Date.now() > deadline) throw new Error('a batch was not acknowledged within 180 s');
    await sleep(200);
  }
}

async function worker() {
  for (;;) {
    const start = next;
    if (start >= TOTAL) return;
    next += BATCH;
    const size = Math.min(BATCH, TOTAL - start);
    const anonymousId = randomUUID();
    const batch = Array.from({ length: size }, (_, i) => ({
      type: 'track', event: 'Load Test', anonymousId, messageId: `${run}-${start + i}`,
      timestamp: new Date().toISOString(), properties: { n: start + i },
    }));
    const events = await deliver(JSON.stringify({ writeKey: WRITE_KEY, batch }), size);
    for (const v of events) {
      verdicts[v.status] += 1;
      if (v.status !== 'rejected') acknowledged.add(v.messageId);
    }
    sent += size;
    while (sent / TOTAL >= nextMark && nextMark < 1) {
      // xtask kills and restarts the collector when it reads a mark.
      console.log(`progress ${Math.round(nextMark * 100)}`);
      nextMark += 0.1;
    }
  }
}

const started = Date.now();
await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
const seconds = (Date.now() - started) / 1000;

const dir = join(STATE_DIR, 'v3', 'd1', 'miniflare-D1DatabaseObject');
const file = readdirSync(dir).find((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
const db = new DatabaseSync(join(dir, file), { readOnly: true });
const stored = db.prepare('SELECT message_id FROM events WHERE message_id LIKE ?').all(`${run}-%`).map((r) => r.message_id);
db.close();
const storedSet = new Set(stored);
const missing = [...acknowledged].filter((id) => !storedSet.has(id));
const summary = {
  events: TOTAL, acknowledged: acknowledged.size, stored: stored.length, distinctStored: storedSet.size,
  missing: missing.length, ...verdicts, retries, seconds,
};
console.log(`summary ${JSON.stringify(summary)}`);
const ok = acknowledged.size === TOTAL && missing.length === 0 && stored.length === storedSet.size && stored.length === TOTAL && verdicts.rejected === 0;
if (!ok) {
  console.log(`FAILED: first missing ${missing.slice(0, 5)}`);
  process.exit(1);
}
