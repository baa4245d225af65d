//! `cargo xtask bench collector [--seconds N] [--json] [--wrangler]`: loopback throughput,
//! measured in one run against a baseline on the same machine, with wrk (Debian's package).
//!
//! Rows: the null worker (a JS worker answering 204, the ceiling of the runtime), the collector
//! with one event per request (`/v1/track`), the collector with 50-event batches (`/v1/batch`),
//! and the latency of recommendation blocks (`GET /v1/recommendations`, one connection).
//! Columns: requests/s, events/s, ratio to the null worker's requests/s, p50 and p99 latency,
//! non-2xx answers. `--json` prints one object per row (fields in [`HELP`]).

use std::path::Path;
use std::process::Command;

use crate::server::{dump_workerd_config, free_port, Collector};
use crate::tools::{run, Tools};
use crate::Result;

/// What `cargo xtask bench --help` prints.
pub const HELP: &str = "cargo xtask bench collector [--seconds N] [--json] [--wrangler]

Loopback throughput of the collector against a null worker (a JS worker that answers 204)
measured in the same run, with wrk -t2 -c32 for N seconds (default 10) per row. Both run on
`workerd serve` directly, on the config wrangler dev generates (same worker, bindings and local
D1), without wrangler's proxy; --wrangler measures them under `wrangler dev` instead. The
per-key rate limit is lifted for the run (KEY_LIMIT_PER_MINUTE).

Rows: null worker (204); the collector's GET /v1/health (a Rust/wasm worker doing nothing: the
runtime's cost of entering our worker, the ceiling for any route of it); collector, 1 event per request (POST /v1/track); collector, 50-event
batches (POST /v1/batch, one visitor per batch as the tracker sends them); recommendation blocks
for the home and a product placement (GET /v1/recommendations, 6 items, after the demo feed is
imported and the ingest rows stored their events), measured with ONE connection (wrk -t1 -c1), so
p50/p99 are the latency of one request on loopback, not a loaded queue's (goal p99 <= 5 ms).

--json prints one object per row with the fields:
  config          the row's name
  requests_per_s  requests answered per second
  events_per_s    events stored per second (requests/s x events per request)
  ratio_to_null   requests/s divided by the null worker's requests/s in this run
  p50_ms          median latency in milliseconds (wrk --latency)
  p99_ms          99th percentile latency in milliseconds
  connections     concurrent connections of the row (32 for throughput, 1 for latency)
  non_2xx         answers that were not 2xx (must be 0)
  seconds         the measuring time of each row";

/// What `cargo xtask bench queries --help` prints.
pub const QUERIES_HELP: &str = "cargo xtask bench queries [--json] [--visitors N]

The collector's hot SQL statements (the identity lookup of a logged-in visitor's request, a
customer's events for widget targeting and for a block, a GDPR export and erasure, a block's
interaction counts, a fold's new sightings, a merge), each timed in real SQLite (rusqlite's
bundled library, what D1 runs on) on one site of N visitors (default 100,000: 200,000 events,
125,000 identities) built from the migrations, as shipped and without its planner hints
(`INDEXED BY` dropped, `CROSS JOIN` as `JOIN`: the plan SQLite picks by itself without table
statistics, as on D1), median of 21 runs each, in one run. Runs the ignored collector test
`query_plans::query_costs`.

--json prints one object per row with the fields:
  statement    what the statement does (and its name in the collector)
  visitors     visitors on the site
  ms           median milliseconds as shipped
  unhinted_ms  median milliseconds without the hints
  ratio        unhinted_ms / ms";

/// Runs `cargo xtask bench queries` (see [`QUERIES_HELP`]).
pub fn queries(tools: &Tools, flags: &[String]) -> Result {
    let mut cmd = tools.command("cargo");
    cmd.args([
        "test",
        "--quiet",
        "-p",
        "edge-collector",
        "--lib",
        "query_costs",
        "--",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    if flags.iter().any(|f| f == "--json") {
        cmd.env("ORBITA_BENCH_JSON", "1");
    }
    if let Some(n) = crate::flag_value(flags, "--visitors") {
        n.parse::<usize>()
            .map_err(|_| format!("--visitors {n:?} is not a number"))?;
        cmd.env("ORBITA_BENCH_VISITORS", n);
    }
    run(&mut cmd)
}

struct Row {
    config: &'static str,
    events_per_request: u32,
    connections: u32,
    load: Load,
}

impl Row {
    /// (requests/s, events/s, ratio to the null worker's requests/s).
    fn figures(&self, null_rps: f64) -> (f64, f64, f64) {
        let rps = self.load.requests_per_s;
        (
            rps,
            rps * f64::from(self.events_per_request),
            rps / null_rps,
        )
    }
}

/// What wrk reported for one run.
pub(crate) struct Load {
    /// Requests answered per second.
    pub requests_per_s: f64,
    /// Requests answered in the run.
    pub requests: usize,
    /// Mean latency, ms.
    pub mean_ms: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Answers that were not 2xx or 3xx.
    pub non_2xx: u64,
}

/// What to send: a wrk script from `bench/wrk` (POSTs) or a GET of a path.
pub(crate) enum Send<'a> {
    Script(&'a str),
    Get(&'a str),
}

/// Runs wrk for `seconds` with `connections` (one thread per 16 connections, at least one).
pub(crate) fn wrk(
    tools: &Tools,
    port: u16,
    send: Send,
    seconds: u32,
    connections: u32,
) -> Result<Load> {
    let threads = connections.div_ceil(16).clamp(1, 2);
    let mut cmd = Command::new("wrk");
    cmd.args([
        format!("-t{threads}"),
        format!("-c{connections}"),
        format!("-d{seconds}s"),
        "--latency".to_string(),
    ]);
    let path = match send {
        Send::Script(script) => {
            cmd.arg("-s").arg(tools.root.join("bench/wrk").join(script));
            "/v1/health"
        }
        Send::Get(path) => {
            // A page of the collector's own origin, as the widgets ask.
            cmd.args(["-H", &format!("Origin: http://127.0.0.1:{port}")]);
            path
        }
    };
    cmd.arg(format!("http://127.0.0.1:{port}{path}"));
    let out = cmd.output().map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |label: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_string()))
    };
    let requests_per_s = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("wrk said:\n{text}"))?;
    let percentile = |label: &str| {
        field(label)
            .as_deref()
            .and_then(milliseconds)
            .ok_or_else(|| format!("no {label} latency in wrk's output:\n{text}"))
    };
    Ok(Load {
        requests_per_s,
        requests: text
            .lines()
            .find_map(|l| l.split_once(" requests in "))
            .and_then(|(n, _)| n.trim().parse().ok())
            .unwrap_or(0),
        // "Latency   132.25us  462.75us  12.74ms  98.05%": the mean is the first figure.
        mean_ms: field("Latency")
            .as_deref()
            .and_then(|v| v.split_whitespace().next())
            .and_then(milliseconds)
            .ok_or_else(|| format!("no mean latency in wrk's output:\n{text}"))?,
        p50_ms: percentile("50%")?,
        p99_ms: percentile("99%")?,
        non_2xx: field("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    })
}

/// A wrk duration (`635.91us`, `2.52ms`, `1.10s`) in milliseconds.
fn milliseconds(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => return None,
    };
    Some(number * scale)
}

/// Installs wrk from Debian's packages if it is missing.
pub(crate) fn ensure_wrk() -> Result {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return Ok(());
    }
    eprintln!("bench: installing Debian's wrk");
    run(Command::new("apt-get")
        .args(["install", "-y", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Which runtime serves the workers under test.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `workerd serve` on the config wrangler generates, without wrangler's proxy (default).
    Workerd,
    /// `wrangler dev`, as `cargo xtask demo` and the tests run it.
    WranglerDev,
}

/// The bench lifts the per-key limit (60,000 a minute by default), which it would reach.
const BENCH_VARS: [(&str, &str); 1] = [("KEY_LIMIT_PER_MINUTE", "1000000000")];

/// Starts the null worker or the collector (`null`) on `port` with `state`, on `runtime`.
/// Runs `work` against the collector on `workerd serve` on a free port with a fresh local D1
/// (`target/<name>-state-<pid>`, removed afterwards), then stops it.
pub(crate) fn with_collector<T>(
    tools: &Tools,
    name: &str,
    work: impl FnOnce(&Collector, u16) -> Result<T>,
) -> Result<T> {
    let state = tools
        .root
        .join(format!("target/{name}-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let port = free_port()?;
    let server = start(tools, Runtime::Workerd, false, port, &state)?;
    let outcome = work(&server, port);
    let stopped = server.stop();
    let _ = std::fs::remove_dir_all(&state);
    let value = outcome?;
    stopped?;
    Ok(value)
}

pub(crate) fn start(
    tools: &Tools,
    runtime: Runtime,
    null: bool,
    port: u16,
    state: &Path,
) -> Result<Collector> {
    let launch = |port| {
        if null {
            let dir = tools.root.join("bench/null-worker");
            Collector::start_in(tools, &dir, port, state, true, &[])
        } else {
            Collector::start(tools, port, state, true, &BENCH_VARS)
        }
    };
    if runtime == Runtime::WranglerDev {
        return launch(port);
    }
    let name = if null { "null" } else { "collector" };
    let json = state.join(format!("{name}-workerd.json"));
    let binary = state.join(format!("{name}-workerd.bin"));
    std::fs::create_dir_all(state).map_err(|e| e.to_string())?;
    dump_workerd_config(tools, &json, &binary, || launch(free_port()?))?;
    Collector::start_workerd(tools, &binary, port)
}

/// Runs the collector benchmark and prints the table.
pub fn collector(tools: &Tools, seconds: u32, json: bool, runtime: Runtime) -> Result {
    ensure_wrk()?;
    let state = tools
        .root
        .join(format!("target/bench-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let mut rows = Vec::new();

    let port = free_port()?;
    let null = start(tools, runtime, true, port, &state)?;
    let _ = wrk(tools, port, Send::Get("/v1/health"), 2, 32)?; // warm-up
    let load = wrk(tools, port, Send::Get("/v1/health"), seconds, 32)?;
    null.stop()?;
    rows.push(Row {
        config: "null worker (204)",
        events_per_request: 0,
        connections: 32,
        load,
    });

    let port = free_port()?;
    let collector = start(tools, runtime, false, port, &state)?;
    collector.load_demo_feed()?;
    let _ = wrk(tools, port, Send::Script("single.lua"), 2, 32)?;
    // The collector's cheapest route: what any Rust/wasm worker pays per request on this runtime.
    let load = wrk(tools, port, Send::Get("/v1/health"), seconds, 32)?;
    rows.push(Row {
        config: "collector, GET /v1/health",
        events_per_request: 0,
        connections: 32,
        load,
    });
    for (config, script, events_per_request) in [
        ("collector, 1 event per request", "single.lua", 1),
        ("collector, 50-event batches", "batch.lua", 50),
    ] {
        let load = wrk(tools, port, Send::Script(script), seconds, 32)?;
        rows.push(Row {
            config,
            events_per_request,
            connections: 32,
            load,
        });
    }
    for (config, path) in [
        (
            "recommendations, home (6 items)",
            "/v1/recommendations?placement=home&limit=6",
        ),
        (
            "recommendations, product (6 items)",
            "/v1/recommendations?placement=product&product=LL-1001&limit=6",
        ),
    ] {
        let _ = wrk(tools, port, Send::Get(path), 1, 1)?;
        let load = wrk(tools, port, Send::Get(path), seconds, 1)?;
        rows.push(Row {
            config,
            events_per_request: 0,
            connections: 1,
            load,
        });
    }
    collector.stop()?;
    let _ = std::fs::remove_dir_all(&state);

    let null_rps = rows[0].load.requests_per_s;
    if json {
        for r in &rows {
            let (rps, eps, ratio) = r.figures(null_rps);
            println!(
                "{{\"config\":{:?},\"requests_per_s\":{rps:.1},\"events_per_s\":{eps:.1},\"ratio_to_null\":{ratio:.3},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"connections\":{},\"non_2xx\":{},\"seconds\":{seconds}}}",
                r.config, r.load.p50_ms, r.load.p99_ms, r.connections, r.load.non_2xx
            );
        }
    } else {
        let on = match runtime {
            Runtime::Workerd => "workerd serve (no wrangler proxy)",
            Runtime::WranglerDev => "wrangler dev",
        };
        println!("{on} on 127.0.0.1, wrk -d{seconds}s per row, one run");
        println!(
            "{:<36} {:>5} {:>11} {:>11} {:>13} {:>8} {:>8} {:>8}",
            "config",
            "conns",
            "requests/s",
            "events/s",
            "vs null req/s",
            "p50 ms",
            "p99 ms",
            "non-2xx"
        );
        for r in &rows {
            let (rps, eps, ratio) = r.figures(null_rps);
            println!(
                "{:<36} {:>5} {rps:>11.0} {eps:>11.0} {ratio:>13.2} {:>8.2} {:>8.2} {:>8}",
                r.config, r.connections, r.load.p50_ms, r.load.p99_ms, r.load.non_2xx
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::milliseconds;

    #[test]
    fn wrk_durations_become_milliseconds() {
        let near = |text: &str, want: f64| {
            let got = milliseconds(text).unwrap();
            assert!((got - want).abs() < 1e-9, "{text}: {got} != {want}");
        };
        near("635.50us", 0.6355);
        near("2.52ms", 2.52);
        near("1.10s", 1100.0);
        assert_eq!(milliseconds("12"), None);
        assert_eq!(milliseconds("3.0h"), None);
    }
}
