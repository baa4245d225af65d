//! `cargo xtask fuzz [--seconds N]`: runs each cargo-fuzz target (fuzz/fuzz_targets) for N
//! seconds (default 10), starting from the committed seeds (fuzz/seeds). Part of `cargo xtask
//! test` as a short run; for a long run use `--seconds 600` or cargo-fuzz directly.

use std::process::Command;

use crate::tools::{run, Tools};
use crate::Result;

/// The fuzz targets, named by what they parse.
pub const TARGETS: [&str; 4] = ["batch", "segment_event", "click_token", "cookie"];

/// Runs every target for `seconds` seconds. Needs the nightly toolchain (sanitizers).
pub fn run_all(tools: &Tools, seconds: u32) -> Result {
    let nightly = Command::new("cargo")
        .args(["+nightly", "--version"])
        .output();
    if !nightly.is_ok_and(|o| o.status.success()) {
        eprintln!("fuzz: SKIPPED: no nightly toolchain on this machine (cargo-fuzz needs it)");
        return Ok(());
    }
    for target in TARGETS {
        let corpus = tools.root.join("target/fuzz-corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
        eprintln!("fuzz: {target} for {seconds} s");
        run(tools
            .command("cargo")
            .args(["+nightly", "fuzz", "run", "-O", target])
            .arg(&corpus)
            .arg(tools.root.join("fuzz/seeds").join(target))
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                "-print_final_stats=1",
            ])
            .current_dir(tools.root.join("fuzz")))?;
    }
    println!("fuzz: {} passed, 0 failed", TARGETS.len());
    Ok(())
}
