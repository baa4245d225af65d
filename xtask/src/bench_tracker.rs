//! `cargo xtask bench tracker [--loads N] [--json]`: what the tracker costs a shop page, in one
//! run: gzip and brotli bytes of the stub and of the tracker (wasm + glue) beside the peers'
//! bundles, and the main-thread time of SDK init + first event on the demo product page in
//! headless Chromium (`bench/tracker-speed.mjs`), with long tasks attributed to the SDK.

use crate::build;
use crate::server::{free_port, Collector};
use crate::size::{brotli_len, gzip_len};
use crate::tools::Tools;
use crate::Result;

/// What `cargo xtask bench tracker --help` prints.
pub const HELP: &str = "cargo xtask bench tracker [--loads N] [--json]

Builds the SDK, then prints in one run:
- sizes: gzip -9 and brotli 11 bytes of the stub (orbita.js) and of the tracker (tracker.js glue
  + tracker_bg.wasm + its JavaScript modules under snippets/, each compressed on its own as a
  server sends them), with the goals, and the
  peers' bundles (shared/handbook/measured-ceilings.md section 2) as reference rows;
- speed: the demo product page (/p/LL-1003) loaded N times (default 20) in headless Chromium
  (Debian's, driven by Playwright) against the collector under wrangler dev, each load in a fresh
  browser context (first visit: empty cache, no cookie), after one warm-up load; once at full
  CPU speed and once with Chromium's CPU throttling at 4x (a mid-range phone).

What the speed figures are (Performance API inside the page):
- init: User Timing marks set by the stub around the tracker's synchronous start() call
  (orbita:loaded -> orbita:started). start() reads the settings, cookie and consent, captures the
  page view (built, session-stamped, serialised, queued for delivery), replays queued calls,
  captures the product view from the page's JSON-LD and asks for the widgets: SDK init + first
  event, all in one main-thread task. Not included: downloading and compiling the wasm
  (asynchronous, mostly off the main thread) and the batch sent 250 ms later.
- ready: orbita:started after navigation start (wall time including downloads; context only).
- SDK long tasks: long-animation-frame entries of >= 50 ms in which a script from /orbita/ ran
  (Chromium lists a frame's scripts that ran 5 ms or more), with the longest such frame and the
  most time the SDK's own scripts took in one of them (the rest of the frame is the page's work:
  parsing, layout, the shop's scripts); page long tasks: all 'longtask' entries of the page.

Goals: stub <= 1,000 B gzip; tracker wasm + glue <= 15,000 B gzip; at desktop CPU (headless
Chromium as it is; the 4x row is context), init + first event median <= 10 ms and no long task
of the SDK's own: no frame in which the SDK's scripts ran 50 ms or more (a long frame in which
the SDK ran a few milliseconds is the page's: it is counted, not held against the goal).

--json prints one object per row with the fields:
  row                    the row's name
  kind                   \"size\" (ours), \"peer\" (reference bundle) or \"speed\"
  gzip_bytes             size rows: bytes after gzip -9 (summed over the row's files)
  brotli_bytes           size rows: bytes after brotli quality 11, window 2^22
  goal                   the goal as text (empty for peers)
  meets_goal             true/false (null for peers)
  cpu_slowdown           speed rows: Chromium CPU throttling rate (1 = none)
  loads                  speed rows: measured loads (the warm-up is not counted)
  init_median_ms         speed rows: median of init (see above), milliseconds
  init_p90_ms            speed rows: 90th percentile of init
  init_max_ms            speed rows: slowest init
  ready_median_ms        speed rows: median time from navigation start to orbita:started
  sdk_long_tasks         speed rows: long animation frames >= 50 ms with SDK script, all loads
  sdk_own_long_tasks     speed rows: of those, frames in which the SDK's scripts ran >= 50 ms
  sdk_long_task_max_ms   speed rows: the longest of them (0 if none)
  sdk_script_in_long_task_max_ms  speed rows: most time SDK scripts ran within one of them
  sdk_long_task_scripts  speed rows: the SDK script that ran longest in each such frame, as
                         \"invoker (file)\" (Chromium's names), distinct values joined by '; '
                         (widgets.js is the recommendation widgets, loaded by the tracker)
  page_long_tasks        speed rows: 'longtask' entries of the page, all loads";

/// Goals from the tracker issue, in bytes after gzip.
const STUB_GOAL_GZIP: usize = 1_000;
const TRACKER_GOAL_GZIP: usize = 15_000;
/// Goal for the median of init + first event, in milliseconds.
const INIT_GOAL_MS: f64 = 10.0;

/// Peers' bundles as measured in shared/handbook/measured-ceilings.md section 2: (package and
/// file, gzip -9 bytes, brotli 11 bytes).
const PEERS: [(&str, usize, usize); 8] = [
    ("@plausible-analytics/tracker 0.4.6", 2_681, 2_355),
    ("@snowplow/browser-tracker 4.10.1", 17_394, 15_642),
    ("@jitsu/js 1.11.0 (terser)", 29_454, 25_343),
    ("@segment/analytics-next 1.84.3", 31_354, 27_445),
    ("mixpanel-browser 2.83.0", 33_487, 29_489),
    ("@rudderstack/analytics-js 3.34.1", 33_635, 29_457),
    ("@amplitude/analytics-browser 2.48.1", 68_795, 58_094),
    ("posthog-js 1.449.2 (array.js)", 121_924, 102_457),
];

struct SizeRow {
    row: String,
    kind: &'static str,
    gzip: usize,
    brotli: usize,
    goal: Option<usize>,
}

/// Reads the SDK files and the peers into size rows.
fn sizes(tools: &Tools) -> Result<Vec<SizeRow>> {
    let dir = build::sdk_dir(tools);
    let measure = |file: &str| -> Result<(usize, usize)> {
        let bytes = std::fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
        Ok((gzip_len(&bytes), brotli_len(&bytes)))
    };
    let stub = measure("orbita.js")?;
    let glue = measure("tracker.js")?;
    let wasm = measure("tracker_bg.wasm")?;
    // The tracker's own JavaScript modules (the outbox and delivery), imported by its glue.
    let mut modules = (0, 0);
    for snippet in build::snippets(&dir.join("snippets")) {
        let path = snippet.strip_prefix(&dir).map_err(|e| e.to_string())?;
        if path.to_string_lossy().starts_with("snippets/tracker-wasm-") {
            let (gzip, brotli) = measure(&path.to_string_lossy())?;
            modules = (modules.0 + gzip, modules.1 + brotli);
        }
    }
    let ours = |row: &str, (gzip, brotli): (usize, usize), goal| SizeRow {
        row: row.into(),
        kind: "size",
        gzip,
        brotli,
        goal,
    };
    let mut rows = vec![
        ours("stub orbita.js", stub, Some(STUB_GOAL_GZIP)),
        ours("tracker glue tracker.js", glue, None),
        ours("tracker wasm tracker_bg.wasm", wasm, None),
        ours("tracker JS modules (outbox.js)", modules, None),
        ours(
            "= tracker wasm + glue + modules",
            (glue.0 + wasm.0 + modules.0, glue.1 + wasm.1 + modules.1),
            Some(TRACKER_GOAL_GZIP),
        ),
    ];
    rows.extend(PEERS.iter().map(|&(name, gzip, brotli)| SizeRow {
        row: format!("peer: {name}"),
        kind: "peer",
        gzip,
        brotli,
        goal: None,
    }));
    Ok(rows)
}

/// A number field of a flat JSON object printed by bench/tracker-speed.mjs.
/// The number in field `field` of a one-line JSON object printed by a bench script.
pub(crate) fn number(line: &str, field: &str) -> Result<f64> {
    let key = format!("\"{field}\":");
    line.split(&key)
        .nth(1)
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no {field} in {line}"))
}

/// A string field of a flat JSON object printed by bench/tracker-speed.mjs.
fn text(line: &str, field: &str) -> Result<String> {
    let key = format!("\"{field}\":\"");
    line.split(&key)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string)
        .ok_or_else(|| format!("no {field} in {line}"))
}

/// Loads the demo product page in Chromium and returns the script's rows (one JSON object each).
fn speed(tools: &Tools, loads: u32) -> Result<Vec<String>> {
    let state = tools
        .root
        .join(format!("target/bench-tracker-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let port = free_port()?;
    let collector = Collector::start(tools, port, &state, true, &[])?;
    let outcome = collector.load_demo_feed().and_then(|()| {
        let out = tools
            .command(&tools.node)
            .arg("bench/tracker-speed.mjs")
            .env("ORBITA_BASE_URL", collector.base_url())
            .env("ORBITA_BENCH_LOADS", loads.to_string())
            .env("CHROMIUM_PATH", "/usr/bin/chromium")
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run node: {e}"))?;
        if !out.status.success() {
            return Err(format!("bench/tracker-speed.mjs failed ({})", out.status));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(str::to_string)
            .collect::<Vec<_>>())
    });
    collector.stop()?;
    let _ = std::fs::remove_dir_all(&state);
    outcome
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A speed row against the goals: `None` for rows the goals are not for (CPU slowdown), else
/// whether init's median and the SDK's own long tasks meet them.
fn verdict(line: &str) -> Result<Option<bool>> {
    if number(line, "cpu_slowdown")? != 1.0 {
        return Ok(None);
    }
    Ok(Some(
        number(line, "init_median_ms")? <= INIT_GOAL_MS
            && number(line, "sdk_own_long_tasks")? == 0.0,
    ))
}

/// Runs the tracker benchmark and prints the table (or JSON rows).
pub fn tracker(tools: &Tools, loads: u32, json: bool) -> Result {
    let size_rows = sizes(tools)?;
    let speed_rows = speed(tools, loads)?;
    if speed_rows.is_empty() {
        return Err("bench/tracker-speed.mjs printed no rows".into());
    }
    if json {
        for r in &size_rows {
            let (goal, meets) = match r.goal {
                Some(g) => (format!("gzip <= {g} B"), (r.gzip <= g).to_string()),
                None => (String::new(), "null".into()),
            };
            println!(
                "{{\"row\":{:?},\"kind\":{:?},\"gzip_bytes\":{},\"brotli_bytes\":{},\"goal\":{goal:?},\"meets_goal\":{meets}}}",
                r.row, r.kind, r.gzip, r.brotli
            );
        }
        for line in &speed_rows {
            let (goal, meets) = match verdict(line)? {
                Some(ok) => (
                    format!("init median <= {INIT_GOAL_MS} ms, no long task of the SDK's own"),
                    ok.to_string(),
                ),
                None => (String::new(), "null".into()),
            };
            let fields = line.trim_start_matches('{');
            println!(
                "{{\"row\":{:?},\"kind\":\"speed\",\"goal\":{goal:?},\"meets_goal\":{meets},{fields}",
                format!("init + first event, {}", text(line, "config")?)
            );
        }
        return Ok(());
    }
    println!("Tracker size: bytes of what a shop page downloads (each file compressed on its own)");
    println!(
        "{:<46} {:>9} {:>10}   {:<18}",
        "row", "gzip -9", "brotli 11", "goal (gzip)"
    );
    for r in &size_rows {
        let verdict = match r.goal {
            Some(g) if r.gzip <= g => format!("<= {} ok", thousands(g)),
            Some(g) => format!("<= {} OVER", thousands(g)),
            None => String::new(),
        };
        println!(
            "{:<46} {:>9} {:>10}   {verdict:<18}",
            r.row,
            thousands(r.gzip),
            thousands(r.brotli)
        );
    }
    println!();
    println!(
        "Tracker speed: demo product page /p/LL-1003, headless Chromium, {loads} loads per row \
         (fresh context each, after a warm-up), milliseconds"
    );
    println!(
        "{:<26} {:>11} {:>8} {:>8} {:>12} {:>24} {:>9} {:>10}   goal",
        "config",
        "init median",
        "p90",
        "max",
        "ready median",
        "long frames with SDK",
        "SDK's own",
        "page long"
    );
    let mut culprits = Vec::new();
    for line in &speed_rows {
        let scripts = text(line, "sdk_long_task_scripts").unwrap_or_default();
        if !scripts.is_empty() {
            culprits.push(format!("{}: {scripts}", text(line, "config")?));
        }
        let median = number(line, "init_median_ms")?;
        let sdk_long = number(line, "sdk_long_tasks")?;
        let goal = match verdict(line)? {
            Some(true) => format!("init <= {INIT_GOAL_MS} ms, none of the SDK's own: ok"),
            Some(false) => format!("init <= {INIT_GOAL_MS} ms, none of the SDK's own: MISSED"),
            None => "(context; the goals are for desktop CPU)".into(),
        };
        println!(
            "{:<26} {median:>11.2} {:>8.2} {:>8.2} {:>12.0} {:>24} {:>9} {:>10}   {goal}",
            text(line, "config")?,
            number(line, "init_p90_ms")?,
            number(line, "init_max_ms")?,
            number(line, "ready_median_ms")?,
            format!(
                "{sdk_long} (max {:.0}, SDK {:.0})",
                number(line, "sdk_long_task_max_ms")?,
                number(line, "sdk_script_in_long_task_max_ms")?
            ),
            number(line, "sdk_own_long_tasks")?,
            number(line, "page_long_tasks")?,
        );
    }
    for culprit in culprits {
        println!("SDK scripts in long tasks, {culprit}");
    }
    Ok(())
}
