// Main-thread cost of the tracker on the demo product page, in headless Chromium (Playwright
// driving Debian's chromium). Run by `cargo xtask bench tracker`, which builds the SDK, starts the
// collector and passes its address in ORBITA_BASE_URL.
//
// Each load is a fresh browser context (a first-time visitor: empty cache, no cookie), so the
// tracker is downloaded, compiled and started from scratch every time. What is measured, with the
// Performance API inside the page:
// - init: the User Timing marks the stub sets around the synchronous `start()` call of the
//   tracker ('orbita:loaded' -> 'orbita:started'). start() reads the settings, the visitor cookie
//   and consent, captures the page view (built, stamped with the session, serialised, queued),
//   replays queued calls, captures the product view from the page's JSON-LD (the document is
//   parsed by then) and asks for the widgets. This is "SDK init + first event": all of it runs
//   in one task on the main thread, so the interval is main-thread time.
// - ready: 'orbita:started' relative to navigation start (wall time, includes downloads and the
//   wasm compile; for context, not a goal).
// - long tasks: 'long-animation-frame' entries (Chromium's successor of 'longtask', with script
//   attribution) of 50 ms or more in which a script from /orbita/ ran; and all 'longtask'
//   entries of the page for context.
// One JSON object per configuration goes to stdout.
import { chromium } from 'playwright-core';

const BASE = process.env.ORBITA_BASE_URL;
const LOADS = Number(process.env.ORBITA_BENCH_LOADS || 20);
const PAGE = process.env.ORBITA_BENCH_PAGE || '/p/LL-1003';
if (!BASE) throw new Error('ORBITA_BASE_URL is not set: run `cargo xtask bench tracker`');

/** Installed before any page script: collects long tasks and long animation frames. */
function observe() {
  const seen = (window.__orbitaBench = { longtasks: [], frames: [] });
  const watch = (type, into) => {
    try {
      new PerformanceObserver((list) => into.push(...list.getEntries().map((e) => e.toJSON()))).observe({
        type,
        buffered: true,
      });
    } catch (e) {
      /* entry type not supported: nothing recorded */
    }
  };
  watch('longtask', seen.longtasks);
  watch('long-animation-frame', seen.frames);
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function oneLoad(browser, cpuSlowdown) {
  const context = await browser.newContext();
  try {
    await context.addInitScript(observe);
    const page = await context.newPage();
    if (cpuSlowdown > 1) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: cpuSlowdown });
    }
    const firstBatch = page.waitForResponse((r) => r.url().endsWith('/v1/batch'), { timeout: 15_000 });
    await page.goto(BASE + PAGE);
    const answered = await firstBatch;
    if (answered.status() !== 200) throw new Error(`the collector answered ${answered.status()}`);
    // Long animation frames are reported when the frame ends: let one more frame pass.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50))));
    return await page.evaluate(() => {
      const mark = (name) => performance.getEntriesByName(name, 'mark')[0];
      const loaded = mark('orbita:loaded');
      const started = mark('orbita:started');
      if (!loaded || !started) throw new Error('the stub set no orbita:loaded/orbita:started marks');
      const sdk = (url) => typeof url === 'string' && url.includes('/orbita/');
      const { longtasks, frames } = window.__orbitaBench;
      const sdkFrames = frames.filter((f) => f.duration >= 50 && (f.scripts || []).some((s) => sdk(s.sourceURL)));
      // Of such a frame, the time the SDK's own scripts ran (the rest is the page's work).
      const sdkTime = (f) => f.scripts.filter((x) => sdk(x.sourceURL)).reduce((t, x) => t + x.duration, 0);
      return {
        init_ms: started.startTime - loaded.startTime,
        ready_ms: started.startTime,
        sdk_long_tasks: sdkFrames.length,
        // Frames the SDK made long by itself: its own scripts ran 50 ms or more in them.
        sdk_own_long_tasks: sdkFrames.filter((f) => sdkTime(f) >= 50).length,
        sdk_long_task_ms: sdkFrames.reduce((t, f) => Math.max(t, f.duration), 0),
        sdk_script_ms: sdkFrames.reduce((t, f) => Math.max(t, sdkTime(f)), 0),
        // The SDK script that ran longest in those frames: "invoker (file)".
        sdk_script: sdkFrames
          .flatMap((f) => f.scripts.filter((x) => sdk(x.sourceURL)))
          .sort((a, b) => b.duration - a.duration)
          .map((x) => `${x.invoker} (${x.sourceURL.split('/').pop()})`)[0] || '',
        page_long_tasks: longtasks.length,
      };
    });
  } finally {
    await context.close();
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
try {
  for (const [config, cpuSlowdown] of [['desktop CPU', 1], ['4x CPU slowdown (phone)', 4]]) {
    await oneLoad(browser, cpuSlowdown); // warm-up: the collector's first requests are slower
    const runs = [];
    for (let i = 0; i < LOADS; i++) runs.push(await oneLoad(browser, cpuSlowdown));
    const ms = (x) => Math.round(x * 100) / 100;
    const init = runs.map((r) => r.init_ms);
    const ready = runs.map((r) => r.ready_ms);
    console.log(JSON.stringify({
      config,
      cpu_slowdown: cpuSlowdown,
      loads: LOADS,
      init_median_ms: ms(percentile(init, 50)),
      init_p90_ms: ms(percentile(init, 90)),
      init_max_ms: ms(Math.max(...init)),
      ready_median_ms: ms(percentile(ready, 50)),
      sdk_long_tasks: runs.reduce((t, r) => t + r.sdk_long_tasks, 0),
      sdk_own_long_tasks: runs.reduce((t, r) => t + r.sdk_own_long_tasks, 0),
      sdk_long_task_max_ms: ms(Math.max(...runs.map((r) => r.sdk_long_task_ms))),
      sdk_script_in_long_task_max_ms: ms(Math.max(...runs.map((r) => r.sdk_script_ms))),
      sdk_long_task_scripts: [...new Set(runs.map((r) => r.sdk_script).filter(Boolean))].join('; '),
      page_long_tasks: runs.reduce((t, r) => t + r.page_long_tasks, 0),
    }));
  }
} finally {
  await browser.close();
}
