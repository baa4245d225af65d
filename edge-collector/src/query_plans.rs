//! The collector's SQL against the schema its migrations build, in real SQLite (what D1 runs
//! on; `rusqlite` with its bundled library, natively), checked with `EXPLAIN QUERY PLAN`: no
//! statement may read a table that grows with the shop's traffic (events, visitors' identities
//! and profiles, subscriptions, ...) whole, or by its `site_id` prefix alone, which is every
//! row of the site. D1 keeps no table statistics, and without them SQLite's planner can prefer
//! the primary key's `site_id` prefix over the index a query was written for (see
//! ARCHITECTURE.md): this is where such a plan is caught. `ORBITA_PRINT_PLANS=1 cargo test -p
//! edge-collector --lib query_plans -- --nocapture` prints every statement's plan.

use rusqlite::Connection;

use crate::{
    catalogue, experiments, identity, ingest, placements, popularity, profiles, push,
    recommendations, site_config, subscribe, visitor,
};

/// Tables whose rows grow with visitors and events.
const GROWING: [&str; 8] = [
    "events",
    "identities",
    "profiles",
    "subscriptions",
    "consent_records",
    "push_subscriptions",
    "push_messages",
    "interaction_sightings",
];

/// An in-memory database built by every migration, in order.
fn schema() -> Connection {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations/")
        .map(|e| e.expect("a migration").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let db = Connection::open_in_memory().expect("SQLite");
    for file in files {
        let sql = std::fs::read_to_string(&file).expect("a readable migration");
        db.execute_batch(&sql)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    db
}

/// The statement's query plan, one line per step.
fn plan(db: &Connection, sql: &str) -> Vec<String> {
    let mut statement = db
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
    let nulls = vec![rusqlite::types::Null; statement.parameter_count()];
    let rows = statement
        .query_map(rusqlite::params_from_iter(nulls), |row| {
            row.get::<_, String>(3)
        })
        .expect("a plan");
    rows.map(|r| r.expect("a plan step")).collect()
}

/// Table names by the name a statement calls them (aliases included).
fn tables(sql: &str) -> Vec<(String, String)> {
    const NOT_ALIAS: [&str; 14] = [
        "WHERE",
        "ON",
        "INDEXED",
        "JOIN",
        "LEFT",
        "INNER",
        "CROSS",
        "GROUP",
        "ORDER",
        "LIMIT",
        "UNION",
        "SET",
        "USING",
        "RETURNING",
    ];
    let words: Vec<&str> = sql
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if !["FROM", "JOIN", "INTO", "UPDATE"].contains(&w.to_uppercase().as_str()) {
            continue;
        }
        let Some(&table) = words.get(i + 1) else {
            continue;
        };
        out.push((table.to_string(), table.to_string()));
        let mut next = words.get(i + 2).copied();
        if next.is_some_and(|n| n.eq_ignore_ascii_case("AS")) {
            next = words.get(i + 3).copied();
        }
        if let Some(alias) = next.filter(|n| {
            !NOT_ALIAS.contains(&n.to_uppercase().as_str())
                && n.chars().all(|c| c.is_alphanumeric() || c == '_')
        }) {
            out.push((alias.to_string(), table.to_string()));
        }
    }
    out
}

/// The plan steps that read a growing table whole or by `site_id` alone.
fn whole_site_reads(db: &Connection, sql: &str) -> Vec<String> {
    let names = tables(sql);
    plan(db, sql)
        .into_iter()
        .filter(|step| {
            let mut words = step.split_whitespace();
            let (Some(verb), Some(name)) = (words.next(), words.next()) else {
                return false;
            };
            let growing = names
                .iter()
                .any(|(called, table)| called == name && GROWING.contains(&table.as_str()));
            growing && (verb == "SCAN" || (verb == "SEARCH" && step.ends_with("(site_id=?)")))
        })
        .collect()
}

/// Every statement the collector runs on a request, a refresh, an export or an erasure.
fn statements() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = [
        ("identity::LOAD_KNOWN", identity::LOAD_KNOWN),
        ("identity::CLAIM_PROFILES", identity::CLAIM_PROFILES),
        ("identity::CLAIM_IDENTITIES", identity::CLAIM_IDENTITIES),
        ("identity::CREATE_PROFILE", identity::CREATE_PROFILE),
        ("identity::MERGE_IDENTITIES", identity::MERGE_IDENTITIES),
        ("identity::MERGE_PROFILES[0]", identity::MERGE_PROFILES[0]),
        ("identity::MERGE_PROFILES[1]", identity::MERGE_PROFILES[1]),
        ("identity::LINK", identity::LINK),
        ("ingest::INSERT_EVENTS", ingest::INSERT_EVENTS),
        ("visitor::EVENTS", visitor::EVENTS),
        (
            "recommendations::LOAD_CATALOGUE",
            recommendations::LOAD_CATALOGUE,
        ),
        (
            "recommendations::LOAD_SOLD_OUT_ONE",
            recommendations::LOAD_SOLD_OUT_ONE,
        ),
        (
            "recommendations::LOAD_SOLD_OUT_ALL",
            recommendations::LOAD_SOLD_OUT_ALL,
        ),
        (
            "recommendations::LOAD_PLACEMENT",
            recommendations::LOAD_PLACEMENT,
        ),
        (
            "recommendations::LOAD_VISITOR_EVENTS",
            recommendations::LOAD_VISITOR_EVENTS,
        ),
        (
            "recommendations::LOAD_NEIGHBOURS",
            recommendations::LOAD_NEIGHBOURS,
        ),
        ("popularity::LOAD", popularity::LOAD),
        ("popularity::FOLDED_UNTIL", popularity::FOLDED_UNTIL),
        ("popularity::NEWEST", popularity::NEWEST),
        ("popularity::CLEAR", popularity::CLEAR),
        ("popularity::COUNT_RAW", popularity::COUNT_RAW),
        ("popularity::SIGHT", popularity::SIGHT),
        ("popularity::COUNT_SIGHTINGS", popularity::COUNT_SIGHTINGS),
        ("popularity::PRUNE", popularity::PRUNE),
        ("popularity::RECORD", popularity::RECORD),
        ("profiles::FIND_BY_IDENTIFIER", profiles::FIND_BY_IDENTIFIER),
        ("profiles::FIND_PROFILE", profiles::FIND_PROFILE),
        ("profiles::IDENTITIES", profiles::IDENTITIES),
        ("profiles::MERGED_FROM", profiles::MERGED_FROM),
        ("push::UPSERT", push::UPSERT),
        ("push::DELETE", push::DELETE),
        ("push::PREVIOUS", push::PREVIOUS),
        ("push::USER_PROFILE", push::USER_PROFILE),
        ("push::RECORD_MESSAGE", push::RECORD_MESSAGE),
        ("subscribe::UPSERT", subscribe::UPSERT),
        ("subscribe::CONSENT", subscribe::CONSENT),
        ("subscribe::EVENT", subscribe::EVENT),
        ("catalogue::UPSERT_PRODUCTS", catalogue::UPSERT_PRODUCTS),
        ("catalogue::RETIRE_MISSING", catalogue::RETIRE_MISSING),
        ("site_config::LOAD", site_config::LOAD),
        ("site_config::SAVE", site_config::SAVE),
        ("placements::LIST", placements::LIST),
        ("placements::UPSERT", placements::UPSERT),
        ("placements::DELETE", placements::DELETE),
    ]
    .into_iter()
    .map(|(name, sql)| (name.to_string(), sql.to_string()))
    .collect();
    for (i, sql) in popularity::RESET.iter().enumerate() {
        all.push((format!("popularity::RESET[{i}]"), sql.to_string()));
    }
    for (i, sql) in profiles::ERASE_PROFILES.iter().enumerate() {
        all.push((format!("profiles::ERASE_PROFILES[{i}]"), sql.to_string()));
    }
    all.push((
        "profiles::export_events_sql".into(),
        profiles::export_events_sql(),
    ));
    all.push((
        "profiles::erase_events_sql".into(),
        profiles::erase_events_sql(),
    ));
    for (_, table, index, columns) in profiles::TIED {
        all.push((
            format!("export {table}"),
            profiles::export_tied_sql(table, index, columns),
        ));
        all.push((
            format!("erase {table}"),
            profiles::erase_tied_sql(table, index),
        ));
    }
    all.push((
        "push::COLUMNS BY_PROFILE".into(),
        format!("{} {} LIMIT 20", push::COLUMNS, push::BY_PROFILE),
    ));
    all.push(("experiments::events_sql".into(), experiments::events_sql()));
    all.push((
        "experiments::purchases_sql".into(),
        experiments::purchases_sql(),
    ));
    all
}

/// Statements that read a whole site on purpose: an erasure drops the site's sightings (they
/// include the erased visitor; the next fold rebuilds them, see `popularity::RESET`).
const WHOLE_SITE_BY_DESIGN: [&str; 1] = ["popularity::RESET[2]"];

#[test]
fn no_statement_reads_a_growing_table_by_site_alone() {
    let db = schema();
    let mut failures = Vec::new();
    for (name, sql) in statements() {
        if WHOLE_SITE_BY_DESIGN.contains(&name.as_str()) {
            continue;
        }
        if std::env::var_os("ORBITA_PRINT_PLANS").is_some() {
            eprintln!("{name}: {}", plan(&db, &sql).join(" | "));
        }
        let bad = whole_site_reads(&db, &sql);
        if !bad.is_empty() {
            failures.push(format!("{name}: {}", bad.join(" | ")));
        }
    }
    assert!(
        failures.is_empty(),
        "plans reading a whole site:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_check_catches_a_read_by_site_alone() {
    // The plans the check exists for: a profile's events and a visitor's identities read
    // through the primary key's site_id prefix (what SQLite picked before `INDEXED BY`).
    let db = schema();
    for sql in [
        "SELECT raw FROM events WHERE site_id = ?1 AND profile_id = ?2 ORDER BY event_time_ms",
        "SELECT i.kind FROM identities i WHERE i.site_id = ?1 AND (i.value = ?2 OR i.profile_id = ?3)",
        "SELECT COUNT(*) FROM events",
    ] {
        assert!(!whole_site_reads(&db, sql).is_empty(), "not caught: {sql}");
    }
    assert!(whole_site_reads(
        &db,
        "SELECT raw FROM events INDEXED BY events_by_profile WHERE site_id = ?1 AND profile_id = ?2"
    )
    .is_empty());
}
