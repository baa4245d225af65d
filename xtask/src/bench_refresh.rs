//! `cargo xtask bench refresh [--products N] [--visitors N] [--new-percent P] [--json]`: the
//! item-to-item refresh, incremental against full, on the same data in one run (issue #6).

use engine::synthetic::{Settings, SyntheticShop};
use serde_json::Value;

use crate::http;
use crate::server::{DEMO_ADMIN_KEY, DEMO_WRITE_KEY};
use crate::tools::Tools;
use crate::Result;

/// What `cargo xtask bench refresh --help` prints.
pub const HELP: &str =
    "cargo xtask bench refresh [--products N] [--visitors N] [--new-percent P] [--json]

The item-to-item refresh (POST /v1/admin/neighbours/refresh) of the collector on `workerd serve`
(the config wrangler dev generates, local D1), incremental against full on the same data in one
run. A synthetic shop (engine::synthetic, seed 42: N products, default 2,000; N visitors, default
20,000, about 2 sessions each) is sent through POST /v1/batch, except every (100/P)-th
interaction (P = 1 by default: 1 % of the events, mostly visitors who already have a history
adding a product). Then 61 s pass (an incremental refresh re-reads the minute before the last
refresh, for late commits; the history is older than that, as between two crons), and in order:
  full (initial build)   ?full=1 over the first 99 %: builds the state from the raw events
  incremental, nothing new   a refresh with no new event (must compute nothing)
  -- the held-back events are sent --
  incremental            the refresh applying the new events to the state
  full (same data)       ?full=1 over the same data: rebuilds everything; it must write no
                         row (the incremental refresh already stored the same rows)
The table prints each refresh's time and what it did; the closing line the ratio of the full
refresh's time to the incremental one's on the same data.

--json prints one object per row with the fields:
  config              the row's name (above)
  mode                the answer's mode: incremental | full
  computed            whether the refresh computed anything
  took_ms             the refresh's own time (the answer's tookMs, the worker's clock)
  wall_ms             the request's time seen by the client
  pairs               (visitor, product) pairs read from the raw events
  visitors_changed    visitors whose products changed (full: all in the window)
  products_recomputed rows recomputed (both relations)
  fold_ms             the interaction-count fold the same request ran first (popularity's
                      tookMs: the first one counts the whole window, later ones the events
                      since the last fold)
  fold_sightings      sightings that fold added (a visitor's first interaction of a kind with
                      a product on a day)
  written             rows written (new or changed)
  deleted             rows deleted
  rows                rows stored after the refresh
  events              events stored before the refresh";

/// The collector's re-read of events before its mark (neighbours.rs `LATE_COMMIT_MS`), + 1 s.
const OVERLAP_S: u64 = 61;

struct Row {
    config: &'static str,
    answer: Value,
    wall_ms: f64,
    events: usize,
}

/// Runs the bench.
pub fn refresh(tools: &Tools, flags: &[String]) -> Result {
    let number = |name: &str, default: usize| {
        crate::flag_value(flags, name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let settings = Settings {
        products: number("--products", 2_000),
        visitors: number("--visitors", 20_000),
        ..Settings::default()
    };
    let every = 100 / number("--new-percent", 1).clamp(1, 100);
    let json = flags.iter().any(|f| f == "--json");
    let shop = SyntheticShop::generate(&settings);
    let (held, first): (Vec<usize>, Vec<usize>) =
        (0..shop.interactions.len()).partition(|i| i % every == every - 1);
    eprintln!(
        "bench refresh: {} products, {} visitors, {} interactions ({} held back)",
        settings.products,
        settings.visitors,
        shop.interactions.len(),
        held.len()
    );
    crate::build::all(tools)?;
    let rows = crate::bench::with_collector(tools, "bench-refresh", |_, port| {
        let mut rows = Vec::new();
        let mut sent = send(port, &shop, &first)?;
        // An incremental refresh re-reads the events of the minute before the last refresh
        // (late commits): the history is older than that, as it is between two crons.
        eprintln!("bench refresh: waiting {OVERLAP_S} s (the refresh's re-read minute)");
        std::thread::sleep(std::time::Duration::from_secs(OVERLAP_S));
        rows.push(timed(port, "full (initial build)", true, sent)?);
        rows.push(timed(port, "incremental, nothing new", false, sent)?);
        sent += send(port, &shop, &held)?;
        rows.push(timed(port, "incremental", false, sent)?);
        rows.push(timed(port, "full (same data)", true, sent)?);
        Ok(rows)
    })?;
    print(&rows, json);
    let field = |r: &Row, f: &str| r.answer[f].as_i64().unwrap_or(-1);
    if field(&rows[1], "productsRecomputed") != 0 || rows[1].answer["computed"] != false {
        return Err("the refresh with nothing new computed something".into());
    }
    if field(&rows[3], "written") != 0 || field(&rows[3], "deleted") != 0 {
        return Err("the full refresh changed rows the incremental one stored".into());
    }
    Ok(())
}

/// Sends the interactions `which` of `shop` in batches; returns how many were stored.
fn send(port: u16, shop: &SyntheticShop, which: &[usize]) -> Result<usize> {
    let mut stored = 0;
    for chunk in which.chunks(500) {
        let events: Vec<String> = chunk
            .iter()
            .map(|&i| {
                let mut event: Value =
                    serde_json::from_str(&shop.event_json(&shop.interactions[i]))
                        .map_err(|e| e.to_string())?;
                // Received now: the events must be inside the refresh's 90-day window.
                event.as_object_mut().map(|o| o.remove("timestamp"));
                Ok(event.to_string())
            })
            .collect::<Result<_>>()?;
        let body = format!(
            r#"{{"writeKey":"{DEMO_WRITE_KEY}","batch":[{}]}}"#,
            events.join(",")
        );
        let (status, answer) = http::request(
            port,
            "POST",
            "/v1/batch",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )?;
        // The generator can repeat a messageId (the same product bought twice at one time):
        // those are answered `duplicate`, as they would be from a shop.
        let counts = serde_json::from_str::<Value>(&answer)
            .ok()
            .map(|a| (a["accepted"].as_u64(), a["duplicates"].as_u64()));
        match counts {
            Some((Some(accepted), Some(duplicates)))
                if status == 200 && (accepted + duplicates) as usize == chunk.len() =>
            {
                stored += accepted as usize
            }
            _ => {
                let head: String = answer.chars().take(300).collect();
                return Err(format!("batch answered {status}: {head}"));
            }
        }
    }
    Ok(stored)
}

/// One refresh, timed by the client too.
fn timed(port: u16, config: &'static str, full: bool, events: usize) -> Result<Row> {
    let admin = format!("Bearer {DEMO_ADMIN_KEY}");
    let path = if full {
        "/v1/admin/neighbours/refresh?full=1"
    } else {
        "/v1/admin/neighbours/refresh"
    };
    let started = std::time::Instant::now();
    let (status, answer) = http::request(
        port,
        "POST",
        path,
        &[("Authorization", admin.as_str())],
        b"",
    )?;
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    if status != 200 {
        return Err(format!("refresh answered {status}: {answer}"));
    }
    eprintln!("bench refresh: {config}: {answer}");
    let answer: Value = serde_json::from_str(&answer).map_err(|e| e.to_string())?;
    Ok(Row {
        config,
        answer,
        wall_ms,
        events,
    })
}

fn print(rows: &[Row], json: bool) {
    let n = |r: &Row, f: &str| r.answer[f].as_i64().unwrap_or(0);
    // The interaction-count fold the same request ran (its time, the sightings it added).
    let fold = |r: &Row, f: &str| r.answer["popularity"][f].as_i64().unwrap_or(0);
    if json {
        for r in rows {
            println!(
                "{}",
                serde_json::json!({
                    "config": r.config, "mode": r.answer["mode"], "computed": r.answer["computed"],
                    "took_ms": n(r, "tookMs"), "wall_ms": (r.wall_ms * 10.0).round() / 10.0,
                    "pairs": n(r, "pairs"), "visitors_changed": n(r, "visitorsChanged"),
                    "products_recomputed": n(r, "productsRecomputed"), "written": n(r, "written"),
                    "deleted": n(r, "deleted"), "rows": n(r, "rows"), "events": r.events,
                    "fold_ms": fold(r, "tookMs"), "fold_sightings": fold(r, "sightings"),
                })
            );
        }
        return;
    }
    println!(
        "| refresh | mode | took ms | wall ms | pairs read | visitors changed | rows recomputed | written | deleted | rows | events | fold ms | fold sightings |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.config,
            r.answer["mode"].as_str().unwrap_or("?"),
            n(r, "tookMs"),
            r.wall_ms,
            n(r, "pairs"),
            n(r, "visitorsChanged"),
            n(r, "productsRecomputed"),
            n(r, "written"),
            n(r, "deleted"),
            n(r, "rows"),
            r.events,
            fold(r, "tookMs"),
            fold(r, "sightings")
        );
    }
    let (incremental, full) = (&rows[2], &rows[3]);
    println!(
        "\nfull / incremental on the same data: {:.1}x by the worker's clock ({} / {} ms), {:.1}x by the client's ({:.0} / {:.0} ms)",
        n(full, "tookMs") as f64 / n(incremental, "tookMs").max(1) as f64,
        n(full, "tookMs"),
        n(incremental, "tookMs"),
        full.wall_ms / incremental.wall_ms.max(0.001),
        full.wall_ms,
        incremental.wall_ms
    );
}
