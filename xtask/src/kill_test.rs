//! `cargo xtask kill-test [--events N]`: proof that no acknowledged event is lost when the
//! runtime dies. A load generator (tests/load/kill-test.mjs) sends N events (default 100,000)
//! and retries every batch until answered; at 20 %, 50 % and 80 % of the load this task kills
//! wrangler and workerd with SIGKILL and starts them again on the same port and D1 state. The
//! generator then checks that every acknowledged event is stored exactly once.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::server::{free_port_outside_ephemeral, Collector, DEMO_WRITE_KEY};
use crate::tools::Tools;
use crate::Result;

/// Progress marks (percent of events answered) at which the runtime is killed.
const KILL_AT: [u32; 3] = [20, 50, 80];

/// Runs the kill test with `events` events.
pub fn run(tools: &Tools, events: usize) -> Result {
    let state = tools
        .root
        .join(format!("target/kill-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    // The load generator keeps connecting while the server is down: see the port's doc.
    let port = free_port_outside_ephemeral()?;
    let mut server = Some(Collector::start(tools, port, &state, true, &[])?);
    let mut load = tools
        .command(&tools.node)
        .arg("tests/load/kill-test.mjs")
        .env("ORBITA_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("ORBITA_WRITE_KEY", DEMO_WRITE_KEY)
        .env("ORBITA_STATE_DIR", &state)
        .env("KILL_TEST_EVENTS", events.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the load generator: {e}"))?;
    let output = load
        .stdout
        .take()
        .ok_or("no output from the load generator")?;
    let mut kills = 0;
    for line in BufReader::new(output).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("kill-test: {line}");
        let percent = line
            .strip_prefix("progress ")
            .and_then(|p| p.parse::<u32>().ok());
        if percent.is_some_and(|p| KILL_AT.contains(&p)) {
            if let Some(running) = server.take() {
                running.crash();
            }
            kills += 1;
            println!(
                "kill-test: SIGKILLed wrangler and workerd ({kills} of {}); restarting",
                KILL_AT.len()
            );
            server = Some(restart(tools, port, &state)?);
        }
    }
    let status = load.wait().map_err(|e| e.to_string())?;
    if let Some(running) = server.take() {
        running.stop()?;
    }
    let _ = std::fs::remove_dir_all(&state);
    if kills < KILL_AT.len() {
        return Err(format!(
            "the runtime was killed {kills} times, not {}: the test proved nothing",
            KILL_AT.len()
        ));
    }
    if !status.success() {
        return Err("acknowledged events were lost or duplicated (see the summary above)".into());
    }
    println!("kill-test: 1 passed, 0 failed");
    Ok(())
}

/// Starts the collector again on `port`, up to 5 times a second apart (the killed runtime's
/// socket may take a moment to go).
fn restart(tools: &Tools, port: u16, state: &std::path::Path) -> Result<Collector> {
    let mut attempt = 1;
    loop {
        match Collector::start(tools, port, state, true, &[]) {
            Ok(server) => return Ok(server),
            Err(e) if attempt < 5 => {
                println!("kill-test: restart {attempt} failed ({e}); trying again");
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            Err(e) => return Err(e),
        }
    }
}
