//! The interaction counts recommenders score popularity from (bestsellers, trending): distinct
//! visitors per product, kind of interaction (view 1, cart 3, purchase 10) and day, bots left
//! out. Folded from the raw events into `product_interactions` (migration 0010) by the cron
//! trigger and the admin refresh, incrementally: a fold reads only the events received since
//! the last one (plus a margin for late commits), keeps their sightings that are new (each
//! visitor once per product, kind and day: `interaction_sightings`, migration 0013, kept for
//! the days a fold may still change) and adds those to the counts; days older than the window
//! are dropped. Its cost follows the new events, not the day's traffic. A block reads the folded counts plus the raw events
//! received since the last fold, so nothing is lost between folds or across a restart.

use serde::Deserialize;
use serde_json::json;
use worker::{wasm_bindgen::JsValue, D1Database, Date, Result};

/// How far back popularity looks.
pub const WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;
/// Milliseconds per day (the counts' day is `received_at_ms / DAY_MS`).
const DAY_MS: i64 = engine::recommenders::DAY_MS;
/// A fold re-reads events from this long before the last folded event.
const LATE_COMMIT_MS: i64 = crate::ingest::COMMITTED_WITHIN_MS;

/// Sightings in the raw events of site `?1` received after `$after` and before `$before` (SQL
/// expressions): one row per product and kind of each event, with its visitor and day. Product
/// IDs may be sent as numbers, hence the casts.
macro_rules! sightings {
    ($after:literal, $before:literal) => {
        concat!(
            "SELECT product_id, kind, day, visitor FROM ( \
    SELECT CAST(json_extract(raw, '$.properties.product_id') AS TEXT) AS product_id, 'view' AS kind, \
           COALESCE(user_id, anonymous_id) AS visitor, received_at_ms / 86400000 AS day \
      FROM events INDEXED BY events_by_name \
      WHERE site_id = ?1 AND event = 'Product Viewed' AND bot = 0 AND received_at_ms > ",
            $after,
            " AND received_at_ms < ",
            $before,
            " UNION ALL \
    SELECT CAST(json_extract(line.value, '$.product_id') AS TEXT), \
           CASE e.event WHEN 'Order Completed' THEN 'purchase' ELSE 'cart' END, \
           COALESCE(e.user_id, e.anonymous_id), e.received_at_ms / 86400000 \
      FROM events e INDEXED BY events_by_name, json_each(e.raw, '$.properties.products') line \
      WHERE e.site_id = ?1 AND e.event IN ('Cart Updated', 'Order Completed') AND e.bot = 0 \
        AND e.received_at_ms > ",
            $after,
            " AND e.received_at_ms < ",
            $before,
            " ) WHERE product_id IS NOT NULL AND visitor IS NOT NULL"
        )
    };
}

/// Counts of the raw events received in (`$after`, `$before`), grouped by product, kind and
/// day: distinct visitors.
macro_rules! counts_between {
    ($after:literal, $before:literal) => {
        concat!(
            "SELECT product_id, kind, day, COUNT(DISTINCT visitor) AS visitors FROM (",
            sightings!($after, $before),
            ") GROUP BY product_id, kind, day"
        )
    };
}

/// The newest interaction event of site `?1` as `last` (each name's newest through the
/// `events_by_name` index).
macro_rules! newest {
    () => {
        "SELECT max( \
    COALESCE((SELECT MAX(received_at_ms) FROM events WHERE site_id = ?1 AND event = 'Product Viewed'), 0), \
    COALESCE((SELECT MAX(received_at_ms) FROM events WHERE site_id = ?1 AND event = 'Cart Updated'), 0), \
    COALESCE((SELECT MAX(received_at_ms) FROM events WHERE site_id = ?1 AND event = 'Order Completed'), 0)) AS last"
    };
}

/// What a block reads: the folded counts of the days from `?3` on, and the counts of the raw
/// events received after the last fold (and after `?2`, the window's start). A visitor seen on
/// the same day before and after the last fold counts twice until the next fold.
pub const LOAD: &str = concat!(
    "SELECT product_id, kind, day, visitors FROM product_interactions WHERE site_id = ?1 AND day >= ?3 \
  UNION ALL ",
    counts_between!(
        "max(?2, COALESCE((SELECT events_until_ms FROM interaction_folds WHERE site_id = ?1), 0))",
        "9e15"
    )
);

pub(crate) const FOLDED_UNTIL: &str =
    "SELECT events_until_ms AS last FROM interaction_folds WHERE site_id = ?1";
/// The newest interaction event (each name's newest through the `events_by_name` index).
pub(crate) const NEWEST: &str = newest!();
/// Days from `?2` on are recounted (a first fold: all of them); days before `?3` left the window.
pub(crate) const CLEAR: &str =
    "DELETE FROM product_interactions WHERE site_id = ?1 AND (day >= ?2 OR day < ?3)";
/// Counts of the raw events received from day `?2` to before day `?3` (the first fold only:
/// the days before the kept sightings).
pub(crate) const COUNT_RAW: &str = concat!(
    "INSERT INTO product_interactions (site_id, product_id, kind, day, visitors) \
  SELECT ?1, product_id, kind, day, visitors FROM (",
    counts_between!("?2 * 86400000 - 1", "?3 * 86400000"),
    ")"
);
/// The sightings of the events received after `?2` and before `?5` (just after the fold's start) on days
/// from `?3` on, each once, marked with the fold that found them (`?4`); ones already there
/// keep their mark.
pub(crate) const SIGHT: &str = concat!(
    "INSERT OR IGNORE INTO interaction_sightings (site_id, day, product_id, kind, visitor, fold) \
  SELECT ?1, day, product_id, kind, visitor, ?4 FROM (",
    sightings!("?2", "?5"),
    ") WHERE day >= ?3"
);
/// Adds the sightings fold `?2` found to the counts: each is a visitor not counted yet for
/// that product, kind and day.
pub(crate) const ADD_SIGHTINGS: &str =
    "INSERT INTO product_interactions (site_id, product_id, kind, day, visitors) \
  SELECT ?1, product_id, kind, day, COUNT(*) FROM interaction_sightings INDEXED BY sightings_by_fold \
  WHERE site_id = ?1 AND fold = ?2 GROUP BY product_id, kind, day \
  ON CONFLICT (site_id, day, product_id, kind) DO UPDATE SET visitors = visitors + excluded.visitors";
/// A first fold's counts of the days from `?2` on: every sighting kept (a first fold clears
/// the counts, so it must count what an earlier fold running at the same time may have marked
/// as its own).
pub(crate) const COUNT_SIGHTINGS: &str =
    "INSERT INTO product_interactions (site_id, product_id, kind, day, visitors) \
  SELECT ?1, product_id, kind, day, COUNT(*) FROM interaction_sightings \
  WHERE site_id = ?1 AND day >= ?2 GROUP BY product_id, kind, day \
  ON CONFLICT (site_id, day, product_id, kind) DO UPDATE SET visitors = visitors + excluded.visitors";
/// Sightings of days before `?2` are no longer needed: no later fold recounts those days.
pub(crate) const PRUNE: &str = "DELETE FROM interaction_sightings WHERE site_id = ?1 AND day < ?2";
/// The fold's mark: the events received up to its start are in the counts (those committed
/// late are read again by the next fold); a block counts the raw events received after it.
pub(crate) const RECORD: &str =
    "INSERT INTO interaction_folds (site_id, events_until_ms, folded_at_ms) VALUES (?1, ?2, ?2) \
    ON CONFLICT (site_id) DO UPDATE SET events_until_ms = excluded.events_until_ms, \
      folded_at_ms = excluded.folded_at_ms";
/// A later fold's mark: only if the counts it added to are still there (an erasure that reset
/// them meanwhile leaves no mark, so the next fold is a first one and counts everything).
pub(crate) const RECORD_AFTER: &str =
    "UPDATE interaction_folds SET events_until_ms = ?2, folded_at_ms = ?2 WHERE site_id = ?1";
/// An erasure drops the counts and sightings (they include the erased visitor); the next fold
/// rebuilds them.
pub const RESET: [&str; 3] = [
    "DELETE FROM product_interactions WHERE site_id = ?1",
    "DELETE FROM interaction_folds WHERE site_id = ?1",
    "DELETE FROM interaction_sightings WHERE site_id = ?1",
];

#[derive(Deserialize)]
struct Last {
    last: Option<f64>,
}

/// What a fold did.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fold {
    /// False when no interaction event arrived since the last fold (nothing was computed).
    pub computed: bool,
    /// The first day recomputed (ms since the epoch / 86,400,000).
    pub from_day: i64,
    /// New sightings (a visitor's first interaction of a kind with a product on a day) found
    /// in the events received since the last fold.
    pub sightings: usize,
    /// Count rows written.
    pub rows: usize,
    /// Time taken, ms.
    pub took_ms: i64,
}

/// Folds the events of `site` received since the last fold into the stored counts.
pub async fn fold(db: &D1Database, site: &str) -> Result<Fold> {
    let started = Date::now().as_millis() as i64;
    let site_param = JsValue::from(site);
    let one = |sql: &'static str| db.prepare(sql).bind(std::slice::from_ref(&site_param));
    let folded = one(FOLDED_UNTIL)?
        .first::<Last>(None)
        .await?
        .and_then(|l| l.last)
        .map(|l| l as i64);
    let newest = one(NEWEST)?
        .first::<Last>(None)
        .await?
        .and_then(|l| l.last)
        .map_or(0, |l| l as i64);
    if folded.is_some_and(|f| newest <= f) {
        return Ok(Fold::default());
    }
    let window_day = (started - WINDOW_MS).div_euclid(DAY_MS);
    // Days from `from_day` on may have changed since the last fold (late commits included).
    let from_day = folded
        .map_or(window_day, |f| (f - LATE_COMMIT_MS).div_euclid(DAY_MS))
        .max(window_day);
    // Sightings are kept from the day the next fold starts at; a first fold counts the days
    // before it from the raw events once, later folds count every changed day from sightings
    // (kept from where the fold before them left off), reading only the events received since.
    let keep_from = (started - LATE_COMMIT_MS)
        .div_euclid(DAY_MS)
        .max(window_day);
    let sighted_from = if folded.is_some() {
        from_day
    } else {
        keep_from.max(from_day)
    };
    // This fold's own mark on the sightings it finds (random: a cron and an admin refresh may
    // fold at the same moment, and each must add only its own).
    let fold_id = JsValue::from(crate::ids::random("f-"));
    // A first fold recounts every day; later ones only add their new sightings.
    let recount_from = if folded.is_some() {
        i64::from(i32::MAX)
    } else {
        from_day
    };
    let scan_after = folded.map_or(sighted_from * DAY_MS - 1, |f| f - LATE_COMMIT_MS);
    let day = |d: i64| JsValue::from_f64(d as f64);
    let statements = vec![
        db.prepare(SIGHT).bind(&[
            site_param.clone(),
            JsValue::from_f64(scan_after as f64),
            day(sighted_from),
            fold_id.clone(),
            // Received up to the fold's start (included): the mark the fold records.
            JsValue::from_f64((started + 1) as f64),
        ])?,
        db.prepare(CLEAR)
            .bind(&[site_param.clone(), day(recount_from), day(window_day)])?,
        db.prepare(COUNT_RAW)
            .bind(&[site_param.clone(), day(from_day), day(sighted_from)])?,
        if folded.is_some() {
            db.prepare(ADD_SIGHTINGS)
                .bind(&[site_param.clone(), fold_id])?
        } else {
            db.prepare(COUNT_SIGHTINGS)
                .bind(&[site_param.clone(), day(sighted_from)])?
        },
        db.prepare(PRUNE)
            .bind(&[site_param.clone(), day(keep_from.min(sighted_from))])?,
        db.prepare(if folded.is_some() {
            RECORD_AFTER
        } else {
            RECORD
        })
        .bind(&[site_param.clone(), JsValue::from_f64(started as f64)])?,
    ];
    // One transaction: a block reads the old counts and mark, or the new ones.
    let results = db.batch(statements).await?;
    let changes = |i: usize| crate::rows_changed(&results, i);
    let (sightings, rows) = (changes(0), changes(2) + changes(3));
    Ok(Fold {
        computed: true,
        from_day,
        sightings,
        rows,
        took_ms: Date::now().as_millis() as i64 - started,
    })
}

/// Logs a fold's outcome (cron).
pub fn log(done: &Result<Fold>) {
    match done {
        Ok(done) => worker::console_log!("interaction fold: {}", json!(done)),
        Err(e) => worker::console_error!("interaction fold failed: {e}"),
    }
}
