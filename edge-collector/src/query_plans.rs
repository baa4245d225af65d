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
    catalogue, experiments, identity, ingest, neighbours, placements, popularity, profiles, push,
    recommendations, site_config, subscribe, visitor,
};

/// Tables whose rows grow with visitors and events.
const GROWING: [&str; 10] = [
    "events",
    "neighbour_visits",
    "neighbour_pairs",
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
        ("popularity::ADD_SIGHTINGS", popularity::ADD_SIGHTINGS),
        ("popularity::COUNT_SIGHTINGS", popularity::COUNT_SIGHTINGS),
        ("popularity::RECORD_AFTER", popularity::RECORD_AFTER),
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
        ("neighbours::MARKS", neighbours::MARKS),
        ("neighbours::INTERACTIONS", neighbours::INTERACTIONS),
        ("neighbours::EXPIRED_VISITORS", neighbours::EXPIRED_VISITORS),
        ("neighbours::VISITS_OF", neighbours::VISITS_OF),
        ("neighbours::VISITS_DELETE", neighbours::VISITS_DELETE),
        ("neighbours::VISITS_INSERT", neighbours::VISITS_INSERT),
        ("neighbours::PAIRS_OF", neighbours::PAIRS_OF),
        ("neighbours::PAIRS_UPSERT", neighbours::PAIRS_UPSERT),
        ("neighbours::PAIRS_DELETE", neighbours::PAIRS_DELETE),
        ("neighbours::NORMS", neighbours::NORMS),
        ("neighbours::NORMS_UPSERT", neighbours::NORMS_UPSERT),
        ("neighbours::NORMS_DELETE", neighbours::NORMS_DELETE),
        ("neighbours::STATE_FULL", neighbours::STATE_FULL),
        ("neighbours::STATE_UPDATE", neighbours::STATE_UPDATE),
        ("neighbours::STORED", neighbours::STORED),
        ("neighbours::STORED_OF", neighbours::STORED_OF),
        ("neighbours::UPSERT", neighbours::UPSERT),
        ("neighbours::DELETE", neighbours::DELETE),
        ("neighbours::RECORD", neighbours::RECORD),
        ("neighbours::LEASE_TAKE", neighbours::LEASE_TAKE),
        ("neighbours::LEASE_GIVE", neighbours::LEASE_GIVE),
    ]
    .into_iter()
    .map(|(name, sql)| (name.to_string(), sql.to_string()))
    .collect();
    for (i, sql) in popularity::RESET.iter().enumerate() {
        all.push((format!("popularity::RESET[{i}]"), sql.to_string()));
    }
    for (i, sql) in neighbours::RESET.iter().enumerate() {
        all.push((format!("neighbours::RESET[{i}]"), sql.to_string()));
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

/// Plan steps that read a whole site on purpose, by statement (`*`: every step): an erasure
/// drops the site's sightings and item-to-item state (they include the erased visitor; the
/// next fold and refresh rebuild them), and the oldest visit is `MIN(last_ms)` over its index,
/// which SQLite answers from the index's first entry (a plan shows it as a search by site).
const WHOLE_SITE_BY_DESIGN: [(&str, &str); 4] = [
    ("popularity::RESET[2]", "*"),
    ("neighbours::RESET[0]", "*"),
    ("neighbours::RESET[1]", "*"),
    (
        "neighbours::MARKS",
        "SEARCH neighbour_visits USING COVERING INDEX neighbour_visits_by_time (site_id=?)",
    ),
];

#[test]
fn no_statement_reads_a_growing_table_by_site_alone() {
    let db = schema();
    let mut failures = Vec::new();
    for (name, sql) in statements() {
        if std::env::var_os("ORBITA_PRINT_PLANS").is_some() {
            eprintln!("{name}: {}", plan(&db, &sql).join(" | "));
        }
        let bad: Vec<String> = whole_site_reads(&db, &sql)
            .into_iter()
            .filter(|step| {
                !WHOLE_SITE_BY_DESIGN
                    .iter()
                    .any(|(n, s)| *n == name && (*s == "*" || s == step))
            })
            .collect();
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
fn one_refresh_lease_per_site_until_given_back_or_run_out() {
    let db = schema();
    let take = |site: &str, now: i64, until: i64| -> bool {
        db.prepare(neighbours::LEASE_TAKE)
            .expect("LEASE_TAKE")
            .query_map(rusqlite::params![site, now, until], |_| Ok(()))
            .expect("a lease")
            .count()
            == 1
    };
    let give = |site: &str, until: i64| {
        db.execute(neighbours::LEASE_GIVE, rusqlite::params![site, until])
            .expect("LEASE_GIVE")
    };
    assert!(take("s", 1_000, 5_000), "a free lease is taken");
    assert!(
        !take("s", 2_000, 6_000),
        "held: a second refresh is refused"
    );
    assert!(take("t", 2_000, 6_000), "another site's lease is its own");
    assert_eq!(give("s", 9_999), 0, "only the holder's lease is given back");
    assert!(!take("s", 4_999, 8_000));
    assert_eq!(give("s", 5_000), 1);
    assert!(take("s", 5_001, 9_000), "given back: taken again");
    assert!(
        take("s", 9_001, 12_000),
        "a crashed holder's lease runs out"
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

/// `text` without its planner hints (`INDEXED BY x` dropped, `CROSS JOIN` as `JOIN`): the
/// plan SQLite picks by itself, the baseline of [`query_costs`].
fn unhinted(text: &str) -> String {
    let mut out = Vec::new();
    let mut words = text.split(' ').peekable();
    while let Some(w) = words.next() {
        if w == "INDEXED" && words.peek() == Some(&"BY") {
            words.next();
            // The index's name, and the comma that may follow it in a FROM list.
            if words.next().is_some_and(|name| name.ends_with(',')) {
                out.push(",");
            }
        } else if w == "CROSS" && words.peek() == Some(&"JOIN") {
            continue;
        } else {
            out.push(w);
        }
    }
    out.join(" ")
}

/// A site of `visitors` visitors (a quarter logged in), each with an anonymous identity and a
/// profile, and two events (view, cart or order) over the last two days.
fn filled(visitors: usize, now_ms: i64) -> Connection {
    let db = schema();
    let tx = db.unchecked_transaction().expect("a transaction");
    {
        let mut profile = tx
            .prepare(
                "INSERT INTO profiles (site_id, profile_id, created_at_ms) VALUES ('s', ?1, 0)",
            )
            .expect("insert");
        let mut identity = tx
            .prepare("INSERT INTO identities (site_id, kind, value, profile_id, linked_at_ms) VALUES ('s', ?1, ?2, ?3, 0)")
            .expect("insert");
        let mut event = tx
            .prepare(
                "INSERT INTO events (site_id, message_id, type, event, anonymous_id, user_id, \
                 received_at_ms, event_time_ms, raw, profile_id) VALUES ('s', ?1, 'track', ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
            )
            .expect("insert");
        for v in 0..visitors {
            let (p, a, u) = (format!("p{v}"), format!("a{v}"), format!("u{v}"));
            profile.execute([&p]).expect("a profile");
            identity
                .execute(["anonymous", &a, &p])
                .expect("an identity");
            if v % 4 == 0 {
                identity.execute(["user", &u, &p]).expect("an identity");
            }
            for e in 0..2 {
                let name = ["Product Viewed", "Cart Updated", "Order Completed"][(v + e) % 3];
                let product = format!("LL-{}", 1000 + (v * 7 + e) % 50);
                let raw = if e == 0 {
                    format!(r#"{{"properties":{{"product_id":"{product}"}}}}"#)
                } else {
                    format!(r#"{{"properties":{{"products":[{{"product_id":"{product}"}}]}}}}"#)
                };
                let at = now_ms - ((v * 2 + e) as i64 * 863) % (2 * 86_400_000);
                let user = (v % 4 == 0).then(|| u.clone());
                event
                    .execute(rusqlite::params![
                        format!("m{v}-{e}"),
                        name,
                        a,
                        user,
                        at,
                        raw,
                        p
                    ])
                    .expect("an event");
            }
        }
    }
    tx.commit().expect("commit");
    db
}

/// Median milliseconds of `runs` runs of a statement (rolled back when it writes).
fn time(db: &Connection, sql: &str, params: &[rusqlite::types::Value], runs: usize) -> f64 {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let tx = db.unchecked_transaction().expect("a transaction");
        let started = std::time::Instant::now();
        {
            let mut statement = tx.prepare(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
            let mut rows = statement
                .query(rusqlite::params_from_iter(params))
                .expect("a query");
            while rows.next().expect("a row").is_some() {}
        }
        times.push(started.elapsed().as_secs_f64() * 1e3);
        tx.rollback().expect("rollback");
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// `cargo xtask bench queries` (an ignored test: `cargo test -p edge-collector --lib
/// query_costs -- --ignored --nocapture`): the hot statements as shipped against the same
/// statements without their planner hints, on one site of 100,000 visitors (200,000 events,
/// 125,000 identities) in real SQLite, in one run. `ORBITA_BENCH_JSON=1` prints one JSON
/// object per row.
#[test]
#[ignore]
fn query_costs() {
    use rusqlite::types::Value::{Integer, Text};
    let visitors: usize = std::env::var("ORBITA_BENCH_VISITORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let now_ms = 1_790_000_000_000_i64;
    let built = std::time::Instant::now();
    let db = filled(visitors, now_ms);
    eprintln!(
        "bench queries: {visitors} visitors, {} events, {} identities built in {:.1?}",
        visitors * 2,
        visitors + visitors.div_ceil(4),
        built.elapsed()
    );
    let site = || Text("s".into());
    let who = 40_000 % visitors.max(1);
    let wanted =
        format!(r#"[{{"kind":"anonymous","value":"a{who}"}},{{"kind":"user","value":"u{who}"}}]"#);
    let day = now_ms / 86_400_000;
    let rows: Vec<(&str, String, Vec<rusqlite::types::Value>)> = vec![
        (
            "identity lookup of a logged-in visitor's request (identity::LOAD_KNOWN)",
            identity::LOAD_KNOWN.into(),
            vec![site(), Text(wanted)],
        ),
        (
            "widget targeting: a customer's events (visitor::EVENTS)",
            visitor::EVENTS.into(),
            vec![site(), Text(format!("a{who}"))],
        ),
        (
            "a block's visitor history (recommendations::LOAD_VISITOR_EVENTS)",
            recommendations::LOAD_VISITOR_EVENTS.into(),
            vec![site(), Text(format!("a{who}")), Integer(300)],
        ),
        (
            "GDPR export of a profile's events",
            profiles::export_events_sql(),
            vec![site(), Text(format!("p{who}"))],
        ),
        (
            "a block's counts since the fold (popularity::LOAD)",
            popularity::LOAD.into(),
            vec![site(), Integer(now_ms - 600_000), Integer(day - 30)],
        ),
        (
            "a fold's new sightings, 10 minutes (popularity::SIGHT)",
            popularity::SIGHT.into(),
            vec![site(), Integer(now_ms - 600_000), Integer(day - 1)],
        ),
        (
            "a merge moving identities (identity::MERGE_IDENTITIES)",
            identity::MERGE_IDENTITIES.into(),
            vec![
                site(),
                Text(format!("p{who}")),
                Text(format!(r#"["p{}"]"#, who + 1)),
            ],
        ),
        (
            "GDPR erasure of a profile's events",
            profiles::erase_events_sql(),
            vec![site(), Text(format!("p{who}"))],
        ),
    ];
    let json = std::env::var_os("ORBITA_BENCH_JSON").is_some();
    if !json {
        println!(
            "{:<74} {:>10} {:>12} {:>8}",
            "statement (one site, real SQLite, median of 21)", "ms", "unhinted ms", "ratio"
        );
    }
    for (name, sql, params) in rows {
        let shipped = time(&db, &sql, &params, 21);
        let baseline = time(&db, &unhinted(&sql), &params, 21);
        if json {
            println!(
                "{{\"statement\":{name:?},\"visitors\":{visitors},\"ms\":{shipped:.4},\"unhinted_ms\":{baseline:.4},\"ratio\":{:.1}}}",
                baseline / shipped
            );
        } else {
            println!(
                "{name:<74} {shipped:>10.4} {baseline:>12.4} {:>7.0}x",
                baseline / shipped
            );
        }
    }
}
