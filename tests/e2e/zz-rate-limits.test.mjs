// Rate limits. Runs last (file order): it uses up this machine's per-address allowance for
// browser requests for the rest of the minute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, WRITE_KEY, d1, uniqueId } from './helpers.mjs';

test('a browser address over its per-minute allowance gets 429 with Retry-After, and nothing it sent then is stored', async () => {
  const send = (id) => fetch(`${BASE}/v1/batch`, {
    method: 'POST',
    headers: { origin: BASE },
    body: JSON.stringify({ writeKey: WRITE_KEY, batch: [{ type: 'page', anonymousId: uniqueId('flood'), messageId: id }] }),
  });
  const refused = [];
  for (let i = 0; i < 400 && refused.length < 5; i++) {
    const id = uniqueId('flood');
    const res = await send(id);
    if (res.status === 429) {
      const body = await res.json();
      assert.equal(body.error, 'rate_limited');
      assert.equal(res.headers.get('retry-after'), '60');
      refused.push(id);
    } else {
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
  }
  assert.equal(refused.length, 5, 'the limit (300 a minute) was reached within 400 requests');
  assert.equal(d1(`SELECT COUNT(*) AS n FROM events WHERE message_id IN (${refused.map(() => '?').join(',')})`, ...refused)[0].n, 0);
  // Backends are limited per key, not per address: the same machine can still send server-side.
  const server = await fetch(`${BASE}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: WRITE_KEY, batch: [{ type: 'page', anonymousId: 'backend', messageId: uniqueId('server') }] }) });
  assert.equal(server.status, 200);
});
