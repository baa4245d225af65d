//! `cargo xtask`: Orbita's build orchestration, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask demo [--port N]`: install what is missing, build everything, start the demo
//!   shop and the collector on one origin (127.0.0.1:8787), stop cleanly on Ctrl-C.
//! - `cargo xtask test`: install what is missing (Chromium too), then lint, native unit tests,
//!   the recommender accuracy check (`eval --check`), wasm-bindgen-test in headless Chromium,
//!   end-to-end tests against a real `wrangler dev`, a short fuzz run and the kill test.
//! - `cargo xtask size [--json]`: raw and gzip sizes of what a shop page downloads; with `--why`,
//!   what the bytes of the tracker's and the widgets' wasm are spent on (per module and group).
//! - `cargo xtask build`: build the SDK, widgets, demo site and worker.
//! - `cargo xtask e2e [FILE...]`: build, then only the end-to-end tests (or the files named).
//! - `cargo xtask screenshots`: build, then write `docs/widgets/*.png` (every subscription form
//!   kind, for the README) from a fresh collector.
//! - `cargo xtask fuzz [--seconds N]`: each cargo-fuzz target for N seconds (needs nightly).
//! - `cargo xtask bench collector [--seconds N] [--json] [--wrangler]`: loopback throughput vs a
//!   null worker, on workerd directly (or under wrangler dev).
//! - `cargo xtask bench tracker [--loads N] [--json]`: tracker bytes (gzip, brotli) beside the
//!   peers', and its main-thread start-up time in headless Chromium.
//! - `cargo xtask bench queries [--json] [--visitors N]`: the collector's hot SQL statements in
//!   real SQLite on one big site, against the same statements without their planner hints.
//! - `cargo xtask bench refresh [--products N] [--visitors N] [--new-percent P] [--json]`: the
//!   item-to-item refresh, incremental against full, on the same data (`bench_refresh`).
//! - `cargo xtask bench engine [--json] [--products N] [--profiles N] [--no-collector]`:
//!   recommendation latency and profile updates per second on a synthetic shop, natively, and
//!   `/v1/recommendations` latency on the collector.
//! - `cargo xtask click-token CONTACT_ID [--ttl-days N]`: a signed link for an email or SMS.
//! - `cargo xtask feed FILE [--port N] [--format F] [--partial]`: import a product feed (Merchant
//!   XML, YML or CSV, any size) into the collector on this machine.
//! - `cargo xtask kill-test [--events N]`: SIGKILL workerd under load; no acknowledged event lost.
//! - `cargo xtask eval [--data FILE] [--json] [--check]`: recommender accuracy on MovieLens-100k
//!   (or a CSV) against the `implicit` package's ALS, BPR and item-kNN, on one split in one run.
//! - `cargo xtask setup [--chromium]`: only install the tools.

mod bench;
mod bench_engine;
mod bench_refresh;
mod bench_tracker;
mod build;
mod eval;
mod feed;
mod fuzz;
mod http;
mod kill_test;
mod server;
mod size;
mod size_why;
mod tools;

use std::process::ExitCode;
use std::time::Instant;

/// Result type of every task: an error is a message for the person at the terminal.
pub type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let flags = &args[args.len().min(1)..];
    let started = Instant::now();
    let outcome = match task {
        "setup" => tools::ensure(flags.iter().any(|f| f == "--chromium")).map(drop),
        "build" => tools::ensure(false).and_then(|t| build::all(&t)).map(drop),
        "demo" => demo(flags),
        "test" => test(),
        "e2e" => tools::ensure(true).and_then(|t| build::all(&t).and_then(|()| e2e(&t, flags))),
        "screenshots" => tools::ensure(true).and_then(|t| {
            build::all(&t)
                .and_then(|()| e2e(&t, &["tests/e2e/widgets-screenshots.mjs".to_string()]))
        }),
        "bench" if flags.iter().any(|f| f == "--help") => {
            match flags.first().map(String::as_str) {
                Some("tracker") => println!("{}", bench_tracker::HELP),
                Some("collector") => println!("{}", bench::HELP),
                Some("engine") => println!("{}", bench_engine::HELP),
                Some("queries") => println!("{}", bench::QUERIES_HELP),
                Some("refresh") => println!("{}", bench_refresh::HELP),
                _ => println!(
                    "{}\n\n{}\n\n{}\n\n{}\n\n{}",
                    bench::HELP,
                    bench_tracker::HELP,
                    bench_engine::HELP,
                    bench::QUERIES_HELP,
                    bench_refresh::HELP
                ),
            }
            Ok(())
        }
        "bench" if flags.first().map(String::as_str) == Some("tracker") => {
            let loads = flag_value(flags, "--loads")
                .and_then(|n| n.parse().ok())
                .unwrap_or(20);
            let json = flags.iter().any(|f| f == "--json");
            tools::ensure(true).and_then(|t| {
                build::all(&t).and_then(|()| bench_tracker::tracker(&t, loads.max(1), json))
            })
        }
        "bench" if flags.first().map(String::as_str) == Some("queries") => {
            tools::ensure(false).and_then(|t| bench::queries(&t, &flags[1..]))
        }
        "bench" if flags.first().map(String::as_str) == Some("engine") => {
            tools::ensure(false).and_then(|t| bench_engine::engine(&t, &flags[1..]))
        }
        "bench" if flags.first().map(String::as_str) == Some("refresh") => {
            tools::ensure(false).and_then(|t| bench_refresh::refresh(&t, &flags[1..]))
        }
        "bench" if flags.first().map(String::as_str) == Some("collector") => {
            let seconds = flag_value(flags, "--seconds")
                .and_then(|n| n.parse().ok())
                .unwrap_or(10);
            let json = flags.iter().any(|f| f == "--json");
            let runtime = if flags.iter().any(|f| f == "--wrangler") {
                bench::Runtime::WranglerDev
            } else {
                bench::Runtime::Workerd
            };
            tools::ensure(false).and_then(|t| {
                build::all(&t).and_then(|()| bench::collector(&t, seconds, json, runtime))
            })
        }
        "eval" => eval::run_eval(flags),
        "click-token" => click_token(flags),
        "feed" => feed::FeedJob::from_flags(flags).and_then(|job| feed::import(&job)),
        "fuzz" => {
            let seconds = flag_value(flags, "--seconds")
                .and_then(|n| n.parse().ok())
                .unwrap_or(10);
            tools::ensure(false).and_then(|t| fuzz::run_all(&t, seconds))
        }
        "kill-test" => {
            let events = flag_value(flags, "--events")
                .and_then(|n| n.parse().ok())
                .unwrap_or(100_000);
            tools::ensure(false)
                .and_then(|t| build::all(&t).and_then(|()| kill_test::run(&t, events)))
        }
        "size" => tools::ensure(false).and_then(|t| {
            build::sdk(&t)?;
            if flags.iter().any(|f| f == "--why") {
                size_why::report(&t, flags)
            } else {
                size::report(flags)
            }
        }),
        _ => {
            eprintln!("usage: cargo xtask <demo|test|e2e|size|bench collector|bench tracker|bench engine|bench queries|bench refresh|eval|feed FILE|click-token ID|fuzz|kill-test|build|setup> (see xtask/src/main.rs)");
            return ExitCode::from(if task == "help" { 0 } else { 2 });
        }
    };
    match outcome {
        Ok(()) => {
            eprintln!("xtask {task}: done in {:.0?}", started.elapsed());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("xtask {task}: FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}

fn flag_value(flags: &[String], name: &str) -> Option<String> {
    flags
        .iter()
        .position(|f| f == name)
        .and_then(|i| flags.get(i + 1))
        .cloned()
}

fn demo(flags: &[String]) -> Result {
    let port: u16 = match flag_value(flags, "--port") {
        Some(p) => p
            .parse()
            .map_err(|_| format!("--port {p:?} is not a port number"))?,
        None => 8787,
    };
    let tools = tools::ensure(false)?;
    build::all(&tools)?;
    let state = tools::root().join("target/demo-state");
    let server = server::Collector::start(&tools, port, &state, false, &[])?;
    server.load_demo_feed()?;
    server.load_demo_site_config()?;
    println!();
    println!(
        "  Lumen & Loom demo shop + Orbita collector: {}/",
        server.base_url()
    );
    println!(
        "  write key: {}   server key: {}   admin key: {}",
        server::DEMO_WRITE_KEY,
        server::DEMO_SERVER_KEY,
        server::DEMO_ADMIN_KEY
    );
    println!("  try: curl -u {}: {}/v1/batch -d '{{\"batch\":[{{\"type\":\"track\",\"event\":\"Hello\",\"anonymousId\":\"me\"}}]}}'", server::DEMO_WRITE_KEY, server.base_url());
    println!("  Ctrl-C stops it.");
    println!();
    let interrupted = tools::on_interrupt()?;
    server.wait_until(&interrupted)
}

/// `cargo xtask click-token CONTACT_ID [--ttl-days N] [--port P] [--url URL]`: asks the
/// running collector (the demo, by default) to issue a click token and prints a link with it.
fn click_token(flags: &[String]) -> Result {
    let contact = flags
        .first()
        .filter(|f| !f.starts_with("--"))
        .ok_or("usage: cargo xtask click-token CONTACT_ID [--ttl-days N] [--port P] [--url URL]")?;
    let port: u16 = flag_value(flags, "--port")
        .map_or(Ok(8787), |p| p.parse().map_err(|_| format!("--port {p:?}")))?;
    let days: u64 = flag_value(flags, "--ttl-days").map_or(Ok(30), |d| {
        d.parse().map_err(|_| format!("--ttl-days {d:?}"))
    })?;
    let body = format!(
        "{{\"contactId\":{contact:?},\"ttlSeconds\":{}}}",
        days * 24 * 3600
    );
    let auth = format!("Bearer {}", server::DEMO_ADMIN_KEY);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, answer) = http::request(
        port,
        "POST",
        "/v1/admin/click-tokens",
        &headers,
        body.as_bytes(),
    )
    .map_err(|e| format!("{e} (is `cargo xtask demo` running?)"))?;
    if status != 200 {
        return Err(format!("the collector answered {status}: {answer}"));
    }
    let token = answer
        .split("\"token\":\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .ok_or("no token in the answer")?;
    let page = flag_value(flags, "--url").unwrap_or_else(|| format!("http://127.0.0.1:{port}/"));
    let separator = if page.contains('?') { '&' } else { '?' };
    println!("{token}");
    println!("link: {page}{separator}orb_ct={token}");
    Ok(())
}

/// End-to-end tests against a collector on a free port with a fresh state directory.
fn e2e(tools: &tools::Tools, files: &[String]) -> Result {
    let state = tools::root().join(format!("target/e2e-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let port = server::free_port()?;
    // A second origin the tests may use as an allowed partner site (CORS).
    let vars = [("ALLOWED_ORIGINS", server::TEST_PARTNER_ORIGIN)];
    let server = server::Collector::start(tools, port, &state, true, &vars)?;
    server.load_demo_feed()?;
    let outcome = tools.node_tests(&server.base_url(), &state, files);
    server.stop()?;
    let _ = std::fs::remove_dir_all(&state);
    outcome
}

/// Crates built and tested natively. The widgets are, for their pure display-rule engine
/// (`widgets::rules`); their drawing is tested in Chromium.
const NATIVE: &[&str] = &[
    "--workspace",
    "--exclude",
    "tracker-wasm",
    "--exclude",
    "tracker-yespo",
    "--exclude",
    "page-values",
    "--exclude",
    "edge-collector",
];

fn test() -> Result {
    let tools = tools::ensure(true)?;
    let mut steps: Vec<(&str, std::time::Duration)> = Vec::new();
    let mut step = |name: &'static str, f: &mut dyn FnMut() -> Result| -> Result {
        eprintln!("\n== {name}");
        let t = Instant::now();
        f()?;
        steps.push((name, t.elapsed()));
        Ok(())
    };
    let lint = ["--all-targets", "--", "-D", "warnings"];
    step("format", &mut || tools.cargo(&["fmt", "--all", "--check"]))?;
    step("clippy (native)", &mut || {
        tools.cargo(&[&["clippy"], NATIVE, &lint].concat())
    })?;
    step("clippy (wasm)", &mut || {
        let wasm = [build::BROWSER, &["-p", "edge-collector"]].concat();
        tools.cargo(&[&["clippy"], &wasm[..], &lint].concat())
    })?;
    step("native unit tests", &mut || {
        tools.cargo(&[&["test"], NATIVE].concat())
    })?;
    // The collector's pure parts (the recommendation cache's counting, history), natively.
    step("collector unit tests (native)", &mut || {
        tools.cargo(&["test", "-p", "edge-collector", "--lib"])
    })?;
    step(
        "recommender accuracy (cargo xtask eval --check)",
        &mut || eval::run_eval(&["--check".to_string()]),
    )?;
    step("wasm-bindgen-test in headless Chromium", &mut || {
        tools.cargo(&[&["test"], build::BROWSER].concat())
    })?;
    step("build", &mut || build::all(&tools))?;
    step("end-to-end tests (Playwright + wrangler dev)", &mut || {
        e2e(&tools, &[])
    })?;
    step("fuzz: 4 targets, 10 s each", &mut || {
        fuzz::run_all(&tools, 10)
    })?;
    step(
        "kill test: 100,000 events, workerd SIGKILLed 3 times",
        &mut || kill_test::run(&tools, 100_000),
    )?;
    eprintln!("\nstep timings:");
    for (name, took) in &steps {
        eprintln!("  {name:<48} {:>6.1} s", took.as_secs_f64());
    }
    Ok(())
}
