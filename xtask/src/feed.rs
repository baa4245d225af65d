//! `cargo xtask feed FILE [--port N] [--format merchant|yml|csv] [--partial] [--part-size N]`:
//! imports a product feed into a collector on this machine (the demo's, by default on port 8787).
//!
//! The feed is parsed here with the same `engine::feed` code the collector uses, and sent as
//! product JSON in parts (`mode=partial&run=RUN`), so a feed of any size imports with bounded
//! memory in the worker; a full import then retires what no part listed
//! (`/v1/admin/catalogue/retire?run=RUN`). Bad rows are printed with their row and reason.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use engine::feed::{parse_feed, FeedFormat};

use crate::http::request;
use crate::server::DEMO_ADMIN_KEY;
use crate::Result;

/// Products per request: ~1-2 MB of JSON, well inside the collector's limits.
const DEFAULT_PART: usize = 5_000;

/// What `cargo xtask feed` was asked to do.
pub struct FeedJob {
    /// The feed file.
    pub path: String,
    /// The collector's port on 127.0.0.1.
    pub port: u16,
    /// The feed's format, if not recognised from its first bytes.
    pub format: Option<String>,
    /// Only upsert: leave products the feed does not list as they are.
    pub partial: bool,
    /// Products per request.
    pub part_size: usize,
    /// The admin key (the demo's unless `ORBITA_ADMIN_KEY` is set).
    pub admin_key: String,
}

impl FeedJob {
    /// Reads the job from the command line (the file first, as `click-token` takes its contact).
    pub fn from_flags(flags: &[String]) -> Result<FeedJob> {
        let path = flags
            .first()
            .filter(|f| !f.starts_with("--"))
            .ok_or("usage: cargo xtask feed FILE [--port N] [--format merchant|yml|csv] [--partial] [--part-size N]")?;
        let number = |name: &str, default: usize| {
            crate::flag_value(flags, name).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| format!("{name} {v:?} is not a number"))
            })
        };
        Ok(FeedJob {
            path: path.clone(),
            port: u16::try_from(number("--port", 8787)?).map_err(|e| format!("--port: {e}"))?,
            format: crate::flag_value(flags, "--format"),
            partial: flags.iter().any(|f| f == "--partial"),
            part_size: number("--part-size", DEFAULT_PART)?,
            admin_key: std::env::var("ORBITA_ADMIN_KEY").unwrap_or_else(|_| DEMO_ADMIN_KEY.into()),
        })
    }
}

/// Parses the feed and sends it; prints what happened.
pub fn import(job: &FeedJob) -> Result {
    let started = Instant::now();
    let bytes = std::fs::read(&job.path).map_err(|e| format!("cannot read {}: {e}", job.path))?;
    let text =
        std::str::from_utf8(&bytes).map_err(|e| format!("{} is not UTF-8: {e}", job.path))?;
    let format = match &job.format {
        Some(name) => FeedFormat::from_name(name)
            .ok_or_else(|| format!("format {name:?} is not merchant, yml or csv"))?,
        None => FeedFormat::detect(text),
    };
    let import = parse_feed(text, format);
    drop(bytes);
    eprintln!(
        "feed: {} parsed as {} in {:.1} s: {} products, {} bad rows",
        job.path,
        format.name(),
        started.elapsed().as_secs_f64(),
        import.products.len(),
        import.errors.len()
    );
    for e in import.errors.iter().take(20) {
        eprintln!(
            "  row {} {}: {}",
            e.row,
            e.id.as_deref().unwrap_or("(no id)"),
            e.reason
        );
    }
    if import.errors.len() > 20 {
        eprintln!("  ... and {} more", import.errors.len() - 20);
    }
    if import.products.is_empty() {
        return Err("the feed has no valid products: nothing sent".into());
    }
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis();
    let auth = format!("Bearer {}", job.admin_key);
    let part_size = job.part_size.max(1);
    for (n, part) in import.products.chunks(part_size).enumerate() {
        let body = serde_json::json!({"offset": n * part_size, "products": part}).to_string();
        let (status, answer) = request(
            job.port,
            "POST",
            &format!("/v1/admin/catalogue?mode=partial&run={run}"),
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )?;
        if status != 200 {
            return Err(format!(
                "part {} (products {}..{}) answered {status}: {answer}; the parts before it are stored, re-run to finish",
                n + 1,
                n * part_size,
                n * part_size + part.len()
            ));
        }
    }
    let parts = import.products.len().div_ceil(part_size);
    let mut retired = String::from("none (--partial)");
    if !job.partial {
        let (status, answer) = request(
            job.port,
            "POST",
            &format!("/v1/admin/catalogue/retire?run={run}"),
            &[("Authorization", auth.as_str())],
            b"",
        )?;
        if status != 200 {
            return Err(format!("retire answered {status}: {answer}"));
        }
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
        retired = answer["retired"].to_string();
    }
    println!(
        "feed: imported {} products in {parts} parts in {:.1} s; bad rows {}; retired (not in the feed) {retired}",
        import.products.len(),
        started.elapsed().as_secs_f64(),
        import.errors.len()
    );
    Ok(())
}
