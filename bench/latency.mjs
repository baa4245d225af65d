// One-request-at-a-time latency client for `cargo xtask bench engine`: GET `ORBITA_BENCH_URL`
// over one keep-alive connection for `ORBITA_BENCH_SECONDS` seconds (after a 1 s warm-up), each
// request timed from its write to the end of its answer with the monotonic clock. Prints one
// JSON line: {requests, non2xx, mean_ms, p50_ms, p99_ms, max_ms}. Beside wrk in the same run: wrk -t1 -c1
// reports a p99 of milliseconds even for GET /v1/health on workerd and for a constant node:http
// server, latencies whose sum exceeds the run's length (impossible for one connection): this
// client's do not.
import http from 'node:http';

const url = new URL(process.env.ORBITA_BENCH_URL);
const seconds = Number(process.env.ORBITA_BENCH_SECONDS || 5);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function once() {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = http.get(url, { agent }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve([Number(process.hrtime.bigint() - start) / 1e6, res.statusCode]));
    });
    req.on('error', reject);
  });
}

async function run(ms) {
  const times = [];
  let non2xx = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const [t, status] = await once();
    times.push(t);
    if (status < 200 || status > 299) non2xx++;
  }
  return { times, non2xx };
}

await run(1000);
const { times, non2xx } = await run(seconds * 1000);
times.sort((a, b) => a - b);
const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
const mean = times.reduce((sum, t) => sum + t, 0) / times.length;
console.log(JSON.stringify({ requests: times.length, non2xx, mean_ms: mean, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: times[times.length - 1] }));
agent.destroy();
