// The per-key ingestion limit, on a collector of its own started with a low limit
// (`--var KEY_LIMIT_PER_MINUTE:20`), so the shared test collector's allowance is untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { readdirSync } from 'node:fs';
import { WRITE_KEY, eventually, uniqueId } from './helpers.mjs';

const LIMIT = 20;
const COLLECTOR_DIR = new URL('../../edge-collector/', import.meta.url).pathname;
const WRANGLER = new URL('../../node_modules/wrangler/bin/wrangler.js', import.meta.url).pathname;
let state, child, base;

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function stored(ids) {
  const dir = join(state, 'v3', 'd1', 'miniflare-D1DatabaseObject');
  const file = readdirSync(dir).find((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
  const db = new DatabaseSync(join(dir, file), { readOnly: true });
  try {
    return db.prepare(`SELECT COUNT(*) AS n FROM events WHERE message_id IN (${ids.map(() => '?').join(',')})`).all(...ids)[0].n;
  } finally { db.close(); }
}

before(async () => {
  state = mkdtempSync(join(tmpdir(), 'orbita-key-limit-'));
  const env = { ...process.env, CI: 'true' };
  execFileSync(process.execPath, [WRANGLER, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state],
    { cwd: COLLECTOR_DIR, env, stdio: 'ignore' });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, [WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(port),
    '--inspector-port', String(await freePort()), '--persist-to', state, '--log-level', 'warn',
    '--var', `KEY_LIMIT_PER_MINUTE:${LIMIT}`], { cwd: COLLECTOR_DIR, env, stdio: 'ignore', detached: true });
  await eventually(() => fetch(`${base}/v1/health`).then((r) => r.ok, () => false), 60_000, 'the second collector');
});

after(() => {
  // wrangler runs workerd as a child: end the whole process group.
  try { process.kill(-child.pid, 'SIGINT'); } catch {}
  setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, 3000).unref();
  rmSync(state, { recursive: true, force: true });
});

test(`a key over its per-minute allowance (${LIMIT}) gets 429 with Retry-After; nothing refused is stored; the other key is not affected`, async () => {
  const send = (id, headers = {}) => fetch(`${base}/v1/batch`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ writeKey: WRITE_KEY, batch: [{ type: 'track', event: 'Limit Probe', anonymousId: 'backend-job', messageId: id }] }),
  });
  const accepted = [], refused = [];
  for (let i = 0; i < LIMIT + 5; i++) {
    const id = uniqueId('key-limit');
    const res = await send(id);
    const body = await res.json();
    if (res.status === 429) {
      assert.equal(body.error, 'rate_limited');
      const wait = Number(res.headers.get('retry-after'));
      assert.ok(wait >= 1 && wait <= 60, `Retry-After is within the window: ${wait}`);
      refused.push(id);
    } else {
      assert.equal(res.status, 200, JSON.stringify(body));
      accepted.push(id);
    }
  }
  assert.equal(accepted.length, LIMIT, 'exactly the allowance was admitted');
  assert.equal(refused.length, 5);
  assert.equal(stored(accepted), LIMIT);
  assert.equal(stored(refused), 0);
  // The server key has its own window: the backend still gets through.
  const server = uniqueId('key-limit-server');
  const res = await fetch(`${base}/v1/batch`, {
    method: 'POST',
    headers: { authorization: 'Bearer demo-server-key' },
    body: JSON.stringify({ batch: [{ type: 'track', event: 'Limit Probe', userId: 'backend', messageId: server }] }),
  });
  assert.equal(res.status, 200);
  assert.equal(stored([server]), 1);
});
