//! `cargo xtask bench collector [--seconds N] [--json] [--wrangler]`: loopback throughput,
//! measured in one run against a baseline on the same machine, with wrk (Debian's package).
//!
//! Rows: the null worker (a JS worker answering 204, the ceiling of the runtime), the collector with one event per request (`/v1/track`), and the collector with
//! 50-event batches (`/v1/batch`). Columns: requests/s, events/s, ratio to the null worker's
//! requests/s, non-2xx answers. `--json` prints one object per row with the fields
//! `config`, `requests_per_s`, `events_per_s`, `ratio_to_null`, `non_2xx`, `seconds`.

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

Rows: null worker (204); collector, 1 event per request (POST /v1/track); collector, 50-event
batches (POST /v1/batch, one visitor per batch as the tracker sends them).

--json prints one object per row with the fields:
  config          the row's name
  requests_per_s  requests answered per second
  events_per_s    events stored per second (requests/s x events per request)
  ratio_to_null   requests/s divided by the null worker's requests/s in this run
  non_2xx         answers that were not 2xx (must be 0)
  seconds         the measuring time of each row";

struct Row {
    config: &'static str,
    requests_per_s: f64,
    events_per_request: u32,
    non_2xx: u64,
}

impl Row {
    /// (requests/s, events/s, ratio to the null worker's requests/s).
    fn figures(&self, null_rps: f64) -> (f64, f64, f64) {
        (
            self.requests_per_s,
            self.requests_per_s * f64::from(self.events_per_request),
            self.requests_per_s / null_rps,
        )
    }
}

/// What wrk reported for one run.
fn wrk(tools: &Tools, port: u16, script: Option<&str>, seconds: u32) -> Result<(f64, u64)> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c32", &format!("-d{seconds}s")]);
    if let Some(script) = script {
        cmd.arg("-s").arg(tools.root.join("bench/wrk").join(script));
    }
    cmd.arg(format!("http://127.0.0.1:{port}/v1/health"));
    let out = cmd.output().map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |label: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_string()))
    };
    let rps = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("wrk said:\n{text}"))?;
    let non_2xx = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok((rps, non_2xx))
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
    let _ = wrk(tools, port, None, 2)?; // warm-up
    let (rps, non_2xx) = wrk(tools, port, None, seconds)?;
    null.stop()?;
    rows.push(Row {
        config: "null worker (204)",
        requests_per_s: rps,
        events_per_request: 0,
        non_2xx,
    });

    let port = free_port()?;
    let collector = start(tools, runtime, false, port, &state)?;
    let _ = wrk(tools, port, Some("single.lua"), 2)?;
    let (rps, non_2xx) = wrk(tools, port, Some("single.lua"), seconds)?;
    rows.push(Row {
        config: "collector, 1 event per request",
        requests_per_s: rps,
        events_per_request: 1,
        non_2xx,
    });
    let (rps, non_2xx) = wrk(tools, port, Some("batch.lua"), seconds)?;
    rows.push(Row {
        config: "collector, 50-event batches",
        requests_per_s: rps,
        events_per_request: 50,
        non_2xx,
    });
    collector.stop()?;
    let _ = std::fs::remove_dir_all(&state);

    let null_rps = rows[0].requests_per_s;
    if json {
        for r in &rows {
            let (rps, eps, ratio) = r.figures(null_rps);
            println!(
                "{{\"config\":{:?},\"requests_per_s\":{rps:.1},\"events_per_s\":{eps:.1},\"ratio_to_null\":{ratio:.3},\"non_2xx\":{},\"seconds\":{seconds}}}",
                r.config, r.non_2xx
            );
        }
    } else {
        let on = match runtime {
            Runtime::Workerd => "workerd serve (no wrangler proxy)",
            Runtime::WranglerDev => "wrangler dev",
        };
        println!("{on} on 127.0.0.1, wrk -t2 -c32 -d{seconds}s, one run");
        println!(
            "{:<34} {:>12} {:>12} {:>14} {:>9}",
            "config", "requests/s", "events/s", "vs null req/s", "non-2xx"
        );
        for r in &rows {
            let (rps, eps, ratio) = r.figures(null_rps);
            println!(
                "{:<34} {rps:>12.0} {eps:>12.0} {ratio:>14.2} {:>9}",
                r.config, r.non_2xx
            );
        }
    }
    Ok(())
}
