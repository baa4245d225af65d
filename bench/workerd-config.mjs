// Turns the workerd config that wrangler dev generated (dumped as JSON by miniflare's
// MINIFLARE_WORKERD_CONFIG_DEBUG) into a binary config for `workerd serve --binary`, with the
// `entry` socket wired straight to the user worker: no wrangler proxy and no dev entry worker in
// front, as shared/handbook/measured-ceilings.md §3 advises for benchmarks.
//
// Usage: node bench/workerd-config.mjs DUMP.json OUT.bin
// Used by `cargo xtask bench collector`.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const [dump, out] = process.argv.slice(2);
if (!dump || !out) {
  console.error('usage: node bench/workerd-config.mjs DUMP.json OUT.bin');
  process.exit(2);
}
// miniflare's own encoder, so the binary matches the workerd that wrangler ships.
const { serializeConfig } = createRequire(import.meta.url)('miniflare');

// JSON.stringify wrote Node buffers (wasm modules, data bindings) as {type: 'Buffer', data: [...]}.
const isBuffer = (v) => v !== null && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data);
const config = JSON.parse(readFileSync(dump, 'utf8'), (_, v) => (isBuffer(v) ? Uint8Array.from(v.data) : v));

const user = config.services.find((s) => s.name.startsWith('core:user:'));
if (!user) throw new Error(`no user worker in ${dump}`);
// Keep the services the user worker reaches through its bindings, and theirs; the dev-only
// services (entry worker, dev registry, explorer, e-mail store) need wrangler's process.
const byName = new Map(config.services.map((s) => [s.name, s]));
const keep = new Set([user.name]);
for (const todo = [user]; todo.length > 0;) {
  const text = JSON.stringify(todo.pop());
  for (const [name, service] of byName) {
    if (!keep.has(name) && text.includes(JSON.stringify(name))) {
      keep.add(name);
      todo.push(service);
    }
  }
}
config.services = config.services.filter((s) => keep.has(s.name));
config.sockets = [{ name: 'entry', service: { name: user.name }, http: {} }];
writeFileSync(out, serializeConfig(config));
console.error(`workerd config: ${user.name} with ${[...keep].length - 1} services it uses -> ${out}`);
