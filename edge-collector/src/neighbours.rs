//! The item-to-item tables (co-viewed, bought together) computed from the stored interactions
//! and kept in D1 (`product_neighbours`, migration 0009), refreshed by the worker's cron trigger
//! (`wrangler.toml` `[triggers] crons`) and by `POST /v1/admin/neighbours/refresh` (admin key;
//! `?full=1` rebuilds from the raw events).
//!
//! Incremental: the co-occurrence model is a sum over visitors, so the refresh keeps its state
//! (migration 0011: each visitor's products per kind of interaction with the newest time, the
//! pair sums and the norms per relation) and, for each visitor with new events or with
//! interactions leaving the 90-day window, subtracts their old contribution and adds the new
//! one (`engine::models::cooccurrence_delta`). Only the rows those sums reach are recomputed:
//! the products whose norms or pair sums changed and every product paired with one of them
//! (its similarity to it depends on that product's norm). A refresh that finds no new event
//! and nothing leaving the window does nothing; only rows whose content changed are written.
//!
//! A full refresh (`?full=1`, or when no state exists: after migration 0011 on an existing
//! database, after an erasure, which drops the state with [`RESET`]) reads every interaction
//! of the window from the raw events and rebuilds the state. Both paths compute the rows with
//! the same code from the same sums, so they store the same rows.
//!
//! Visitors are `COALESCE(profile_id, user_id, anonymous_id)` of each event, as recorded at
//! arrival: `events.profile_id` is never rewritten (a later merge keeps the events' profiles,
//! `ARCHITECTURE.md`), so a visitor's key never changes and the incremental state groups
//! exactly as a full rebuild does. Anything that rewrites stored events' identities must drop
//! the state with [`RESET`], as erasure does.
//!
//! Every statement of a refresh's write is in one `batch` (a transaction): readers see the old
//! tables and state or the new ones. Two refreshes of one site running at the same moment
//! (cron and admin) are not serialised; the later write wins.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use engine::models::cooccurrence_delta::{visitor_set, Changes, Settings, Sum, Sums};
use engine::recommend::InteractionKind;
use engine::recommenders::{Relation, NEIGHBOURS_KEPT};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{
    wasm_bindgen::JsValue, D1Database, D1PreparedStatement, D1Result, Date, Env, Request, Response,
    Result,
};

use crate::recommendations::NeighbourRow;
use crate::{auth, popularity, reply};

/// How far back interactions count for the tables.
const WINDOW_MS: i64 = 90 * 24 * 3600 * 1000;
/// Rows written per statement.
const CHUNK: usize = 200;
/// Longest JSON list bound to one statement of the state (D1 allows 2 MB per value).
const PARAM_BYTES: usize = 500_000;
/// An incremental refresh re-reads events from this long before its mark.
const LATE_COMMIT_MS: i64 = crate::ingest::COMMITTED_WITHIN_MS;
/// The relations, each a model of its own.
const RELATIONS: [Relation; 2] = [Relation::CoViewed, Relation::BoughtTogether];
/// The model: cosine similarity, visitors damped by history length^0.5 (as `Cooccurrence`).
const SETTINGS: Settings = Settings {
    neighbours: NEIGHBOURS_KEPT,
    alpha: 0.5,
    damping: 0.5,
};

/// The newest interaction event (each name's through the `events_by_name` index), the state's
/// mark, the oldest visit the state holds and the rows stored at the last refresh.
pub(crate) const MARKS: &str = "SELECT max( \
    COALESCE((SELECT MAX(received_at_ms) FROM events WHERE site_id = ?1 AND event = 'Product Viewed'), 0), \
    COALESCE((SELECT MAX(received_at_ms) FROM events WHERE site_id = ?1 AND event = 'Cart Updated'), 0), \
    COALESCE((SELECT MAX(received_at_ms) FROM events WHERE site_id = ?1 AND event = 'Order Completed'), 0)) AS last_event, \
  (SELECT events_until_ms FROM neighbour_state WHERE site_id = ?1) AS state_until, \
  (SELECT MIN(last_ms) FROM neighbour_visits WHERE site_id = ?1) AS oldest, \
  (SELECT rows FROM neighbour_refreshes WHERE site_id = ?1) AS rows";

/// The interactions received after `?2`: each (visitor, product, weight) once with its newest
/// time (weights: view 1, cart 3, purchase 10); visitors are profiles where known. Bots left
/// out. `INDEXED BY`: with the `IN` over event names and no table statistics SQLite searched
/// the primary key's `site_id` prefix, every event of the site (an incremental refresh reads
/// only the new events' index range).
pub(crate) const INTERACTIONS: &str = "SELECT visitor, product_id, weight, MAX(at) AS last FROM ( \
    SELECT COALESCE(profile_id, user_id, anonymous_id) AS visitor, \
           CAST(json_extract(raw, '$.properties.product_id') AS TEXT) AS product_id, 1 AS weight, \
           received_at_ms AS at \
      FROM events INDEXED BY events_by_name \
      WHERE site_id = ?1 AND event = 'Product Viewed' AND received_at_ms > ?2 AND bot = 0 \
    UNION ALL \
    SELECT COALESCE(e.profile_id, e.user_id, e.anonymous_id), \
           CAST(json_extract(line.value, '$.product_id') AS TEXT), \
           CASE e.event WHEN 'Order Completed' THEN 10 ELSE 3 END, e.received_at_ms \
      FROM events e INDEXED BY events_by_name, json_each(e.raw, '$.properties.products') line \
      WHERE e.site_id = ?1 AND e.event IN ('Cart Updated', 'Order Completed') AND e.received_at_ms > ?2 \
        AND e.bot = 0 \
  ) WHERE product_id IS NOT NULL AND visitor IS NOT NULL GROUP BY visitor, product_id, weight";
/// Visitors with a visit leaving the window (at or before `?2`).
pub(crate) const EXPIRED_VISITORS: &str =
    "SELECT DISTINCT visitor FROM neighbour_visits WHERE site_id = ?1 AND last_ms <= ?2";
/// The stored visits of some visitors (`?2`, a JSON list).
pub(crate) const VISITS_OF: &str =
    "SELECT visitor, product_id, weight, last_ms AS last FROM neighbour_visits \
    WHERE site_id = ?1 AND visitor IN (SELECT value FROM json_each(?2))";
pub(crate) const VISITS_DELETE: &str = "DELETE FROM neighbour_visits WHERE site_id = ?1 \
    AND visitor IN (SELECT value FROM json_each(?2))";
pub(crate) const VISITS_INSERT: &str = "INSERT INTO neighbour_visits (site_id, visitor, product_id, weight, last_ms) \
    SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), \
      json_extract(value, '$[3]') FROM json_each(?2)";
/// The pair sums of some products (`?3`) in relation `?2`, one JSON list per product of
/// `[other, together, visitors]` (one value per product crosses into the worker, not three per
/// pair: reading the rows field by field was most of an incremental refresh's time).
pub(crate) const PAIRS_OF: &str =
    "SELECT product_id, json_group_array(json_array(other_id, printf('%!.17g', together), visitors)) AS pairs \
    FROM neighbour_pairs WHERE site_id = ?1 AND relation = ?2 \
      AND product_id IN (SELECT value FROM json_each(?3)) GROUP BY product_id";
pub(crate) const PAIRS_UPSERT: &str = "INSERT INTO neighbour_pairs (site_id, relation, product_id, other_id, together, visitors) \
    SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), \
      json_extract(value, '$[3]'), json_extract(value, '$[4]') FROM json_each(?2) WHERE true \
    ON CONFLICT (site_id, relation, product_id, other_id) DO UPDATE SET together = excluded.together, \
      visitors = excluded.visitors";
pub(crate) const PAIRS_DELETE: &str = "DELETE FROM neighbour_pairs WHERE site_id = ?1 \
    AND (relation, product_id, other_id) IN (SELECT json_extract(value, '$[0]'), \
      json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?2))";
/// The norms of relation `?2` as one JSON list of `[product, norm, visitors]`.
pub(crate) const NORMS: &str =
    "SELECT json_group_array(json_array(product_id, printf('%!.17g', norm), visitors)) AS norms \
    FROM neighbour_norms WHERE site_id = ?1 AND relation = ?2";
pub(crate) const NORMS_UPSERT: &str = "INSERT INTO neighbour_norms (site_id, relation, product_id, norm, visitors) \
    SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), \
      json_extract(value, '$[3]') FROM json_each(?2) WHERE true \
    ON CONFLICT (site_id, relation, product_id) DO UPDATE SET norm = excluded.norm, \
      visitors = excluded.visitors";
pub(crate) const NORMS_DELETE: &str = "DELETE FROM neighbour_norms WHERE site_id = ?1 \
    AND (relation, product_id) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') \
      FROM json_each(?2))";
pub(crate) const STATE_FULL: &str = "INSERT INTO neighbour_state (site_id, events_until_ms, built_at_ms) \
    VALUES (?1, ?2, ?3) ON CONFLICT (site_id) DO UPDATE SET events_until_ms = excluded.events_until_ms, \
      built_at_ms = excluded.built_at_ms";
pub(crate) const STATE_UPDATE: &str =
    "UPDATE neighbour_state SET events_until_ms = ?2 WHERE site_id = ?1";
/// Drops the state: the next refresh is a full one. An erasure runs these (the state holds the
/// erased visitor's products).
pub const RESET: [&str; 4] = [
    "DELETE FROM neighbour_visits WHERE site_id = ?1",
    "DELETE FROM neighbour_pairs WHERE site_id = ?1",
    "DELETE FROM neighbour_norms WHERE site_id = ?1",
    "DELETE FROM neighbour_state WHERE site_id = ?1",
];

pub(crate) const STORED: &str =
    "SELECT relation, product_id, neighbours FROM product_neighbours WHERE site_id = ?1";
/// The stored rows of some products (`?3`) in relation `?2`.
pub(crate) const STORED_OF: &str =
    "SELECT relation, product_id, neighbours FROM product_neighbours \
    WHERE site_id = ?1 AND relation = ?2 AND product_id IN (SELECT value FROM json_each(?3))";
pub(crate) const UPSERT: &str = "INSERT INTO product_neighbours (site_id, relation, product_id, neighbours, updated_at_ms) \
    SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), ?2 \
    FROM json_each(?3) WHERE true \
    ON CONFLICT (site_id, product_id, relation) DO UPDATE SET neighbours = excluded.neighbours, \
      updated_at_ms = excluded.updated_at_ms";
pub(crate) const DELETE: &str = "DELETE FROM product_neighbours WHERE site_id = ?1 \
    AND relation || ' ' || product_id IN (SELECT value FROM json_each(?2))";
pub(crate) const RECORD: &str = "INSERT INTO neighbour_refreshes (site_id, events_until_ms, refreshed_at_ms, rows) \
    VALUES (?1, ?2, ?3, ?4) ON CONFLICT (site_id) DO UPDATE SET events_until_ms = excluded.events_until_ms, \
      refreshed_at_ms = excluded.refreshed_at_ms, rows = excluded.rows";

#[derive(Deserialize, Default)]
struct Marks {
    last_event: Option<f64>,
    state_until: Option<f64>,
    oldest: Option<f64>,
    rows: Option<f64>,
}

/// A (visitor, product, weight) with its newest time.
#[derive(Deserialize)]
struct Interaction {
    visitor: String,
    product_id: String,
    weight: f64,
    last: f64,
}

#[derive(Deserialize)]
struct VisitorRow {
    visitor: String,
}

/// A product's pair sums as [`PAIRS_OF`] reads them.
#[derive(Deserialize)]
struct PairList {
    product_id: String,
    pairs: String,
}

/// The norms as [`NORMS`] reads them.
#[derive(Deserialize)]
struct NormList {
    norms: String,
}

/// `[id, value, visitors]` lists as JSON text, parsed; the values are text with 17 significant
/// digits (SQLite's JSON writes reals with 15, which would not read back the same f64).
fn sums_of(text: &str) -> Result<Vec<(String, Sum)>> {
    let list: Vec<(String, String, f64)> =
        serde_json::from_str(text).map_err(|e| worker::Error::RustError(e.to_string()))?;
    list.into_iter()
        .map(|(id, value, visitors)| {
            let value = value
                .parse::<f64>()
                .map_err(|e| worker::Error::RustError(format!("stored sum {value}: {e}")))?;
            let visitors = visitors as i64;
            Ok((id, Sum { value, visitors }))
        })
        .collect()
}

/// The pair sums of [`PAIRS_OF`]'s lists, products numbered by `names`.
fn pairs_of(lists: &[PairList], names: &mut Names) -> Result<Vec<((u32, u32), Sum)>> {
    let mut out = Vec::new();
    for list in lists {
        let p = names.id(&list.product_id);
        for (other, sum) in sums_of(&list.pairs)? {
            out.push(((p, names.id(&other)), sum));
        }
    }
    Ok(out)
}

/// What a refresh did.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refresh {
    /// False when no event arrived and nothing left the window since the last refresh
    /// (nothing was computed).
    pub computed: bool,
    /// `incremental` (the stored state updated with what changed) or `full` (rebuilt from the
    /// raw events of the window).
    pub mode: &'static str,
    /// (visitor, product) pairs read from the raw events (incremental: those of the events
    /// since the last refresh).
    pub pairs: usize,
    /// Rows in the tables now.
    pub rows: usize,
    /// Rows written because they are new or changed.
    pub written: usize,
    /// Rows deleted because their product has no neighbours any more.
    pub deleted: usize,
    /// Visitors whose products changed (full: every visitor of the window).
    pub visitors_changed: usize,
    /// Rows recomputed, both relations (full: every row, stored or new).
    pub products_recomputed: usize,
    /// Time taken, ms.
    pub took_ms: i64,
}

/// Takes site `?1`'s refresh lease until `?3` if it is free at `?2` (answers a row only then).
pub(crate) const LEASE_TAKE: &str = "INSERT INTO refresh_leases (site_id, name, until_ms) \
    VALUES (?1, 'neighbours', ?3) ON CONFLICT (site_id, name) DO UPDATE SET until_ms = excluded.until_ms \
    WHERE refresh_leases.until_ms < ?2 RETURNING until_ms";
/// Gives back the lease taken until `?2`.
pub(crate) const LEASE_GIVE: &str = "DELETE FROM refresh_leases \
    WHERE site_id = ?1 AND name = 'neighbours' AND until_ms = ?2";
/// How long a refresh may hold the lease (a refresh takes seconds; a crashed one's lease runs
/// out after this).
const LEASE_MS: i64 = 2 * 60 * 1000;

/// Why a refresh did not run.
#[derive(Debug, PartialEq)]
pub enum Skipped {
    /// Another refresh of the site holds the lease.
    Running,
}

/// Refreshes the tables of `site` unless another refresh of it is running (it holds the site's
/// lease, `refresh_leases`, migration 0014): `Ok(Err(Skipped::Running))` then.
pub async fn refresh(
    db: &D1Database,
    site: &str,
    full: bool,
) -> Result<std::result::Result<Refresh, Skipped>> {
    let now = Date::now().as_millis() as i64;
    let until = JsValue::from_f64((now + LEASE_MS) as f64);
    let site_param = JsValue::from(site);
    let taken = db
        .prepare(LEASE_TAKE)
        .bind(&[
            site_param.clone(),
            JsValue::from_f64(now as f64),
            until.clone(),
        ])?
        .first::<serde_json::Value>(None)
        .await?;
    if taken.is_none() {
        return Ok(Err(Skipped::Running));
    }
    let done = refresh_alone(db, site, full).await;
    // Given back whatever happened (else it runs out).
    let given = db
        .prepare(LEASE_GIVE)
        .bind(&[site_param, until])?
        .run()
        .await;
    let done = done?;
    given?;
    Ok(Ok(done))
}

/// Recomputes the tables of `site` and stores what changed: incrementally from the stored
/// state unless `full` is set or no state exists (then from the raw events). The caller holds
/// the site's refresh lease.
async fn refresh_alone(db: &D1Database, site: &str, full: bool) -> Result<Refresh> {
    let started = Date::now().as_millis() as i64;
    let site_param = JsValue::from(site);
    let cutoff = started - WINDOW_MS;
    let marks = db
        .prepare(MARKS)
        .bind(std::slice::from_ref(&site_param))?
        .first::<Marks>(None)
        .await?
        .unwrap_or_default();
    let last_event = marks.last_event.unwrap_or(0.0) as i64;
    let run = Run {
        db,
        site: site_param,
        started,
        cutoff,
        last_event,
    };
    let Some(state_until) = marks.state_until.map(|u| u as i64).filter(|_| !full) else {
        return run.full().await;
    };
    let expiring = marks.oldest.is_some_and(|o| (o as i64) <= cutoff);
    if last_event <= state_until && !expiring {
        return Ok(Refresh {
            mode: "incremental",
            rows: marks.rows.unwrap_or(0.0) as usize,
            ..Default::default()
        });
    }
    run.incremental(state_until, marks.rows.unwrap_or(0.0) as usize)
        .await
}

/// One refresh's fixed inputs.
struct Run<'a> {
    db: &'a D1Database,
    site: JsValue,
    started: i64,
    cutoff: i64,
    last_event: i64,
}

/// Product IDs numbered densely for the engine.
#[derive(Default)]
struct Names {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        self.names.push(name.to_string());
        let id = self.names.len() as u32 - 1;
        self.ids.insert(name.to_string(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// Ties of similarity go to the smaller product ID.
    fn order(&self) -> impl Fn(u32, u32) -> std::cmp::Ordering + '_ {
        |a, b| self.name(a).cmp(self.name(b))
    }
}

/// A visitor's products with their weights for one relation, sorted by product.
type Set = Vec<(u32, f32)>;

/// A visitor's interactions: (product, weight) → newest time.
type Visits = BTreeMap<(u32, u8), i64>;

/// The visitor's set for a relation (bought together: carts and purchases only).
fn set_of(visits: &Visits, relation: Relation) -> Set {
    let buying = InteractionKind::Cart.weight();
    visitor_set(
        visits
            .keys()
            .filter(|(_, w)| relation == Relation::CoViewed || *w as f64 >= buying)
            .map(|&(p, w)| (p, w as f32)),
    )
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| worker::Error::RustError(e.to_string()))
}

/// JSON arrays of `items`, each at most about `PARAM_BYTES` long (one bound parameter each).
fn json_chunks<T: Serialize>(items: impl IntoIterator<Item = T>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut current = String::from("[");
    for item in items {
        let text = to_json(&item)?;
        if current.len() > 1 && current.len() + text.len() + 1 > PARAM_BYTES {
            current.push(']');
            out.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&text);
    }
    if current.len() > 1 {
        current.push(']');
        out.push(current);
    }
    Ok(out)
}

fn num(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

impl Run<'_> {
    /// The state's mark after this refresh: the events received before its start are in it
    /// (the next incremental refresh re-reads from a minute before, for late commits).
    fn mark(&self) -> i64 {
        self.started.max(self.last_event)
    }

    fn statement(&self, sql: &str, params: &[JsValue]) -> Result<D1PreparedStatement> {
        let mut all = vec![self.site.clone()];
        all.extend_from_slice(params);
        self.db.prepare(sql).bind(&all)
    }

    /// One statement per chunk of `items` (bound as `?2`, after `fixed` as `?3`...); all of
    /// them in one round trip.
    async fn read_chunked<T: DeserializeOwned, I: Serialize>(
        &self,
        sql: &str,
        fixed: &[JsValue],
        items: impl IntoIterator<Item = I>,
    ) -> Result<Vec<T>> {
        let mut statements = Vec::new();
        for chunk in json_chunks(items)? {
            let mut params = fixed.to_vec();
            params.push(JsValue::from(chunk));
            statements.push(self.statement(sql, &params)?);
        }
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for result in self.db.batch(statements).await? {
            out.extend(result.results::<T>()?);
        }
        Ok(out)
    }

    /// Statements writing `items` in chunks with `sql` (`?2` the chunk).
    fn write_chunked<I: Serialize>(
        &self,
        statements: &mut Vec<D1PreparedStatement>,
        sql: &str,
        items: impl IntoIterator<Item = I>,
    ) -> Result<()> {
        for chunk in json_chunks(items)? {
            statements.push(self.statement(sql, &[JsValue::from(chunk)])?);
        }
        Ok(())
    }

    /// Rebuilds the state and the tables from the raw events of the window.
    async fn full(&self) -> Result<Refresh> {
        let read: Vec<Interaction> = self
            .db
            .prepare(INTERACTIONS)
            .bind(&[self.site.clone(), num(self.cutoff)])?
            .all()
            .await?
            .results()?;
        let mut names = Names::default();
        let mut visitors: HashMap<String, Visits> = HashMap::new();
        for i in &read {
            let p = names.id(&i.product_id);
            visitors
                .entry(i.visitor.clone())
                .or_default()
                .insert((p, i.weight as u8), i.last as i64);
        }
        let pairs: HashSet<(&str, &str)> = read
            .iter()
            .map(|i| (i.visitor.as_str(), i.product_id.as_str()))
            .collect();
        let mut statements = Vec::new();
        for sql in RESET {
            statements.push(self.statement(sql, &[])?);
        }
        self.write_chunked(
            &mut statements,
            VISITS_INSERT,
            visitors.iter().flat_map(|(v, visits)| {
                let names = &names;
                visits
                    .iter()
                    .map(move |(&(p, w), &t)| (v, names.name(p), w, t))
            }),
        )?;
        let mut fresh = Vec::new();
        for relation in RELATIONS {
            let mut sums = Sums::default();
            for visits in visitors.values() {
                sums.add(&set_of(visits, relation), 1, &SETTINGS);
            }
            self.write_sums(&mut statements, relation, &sums, None, &names)?;
            for (p, row) in sums.rows(|_| true, &SETTINGS, names.order()) {
                fresh.push(fresh_row(relation, names.name(p), &row, &names)?);
            }
        }
        let stored: Vec<NeighbourRow> = self
            .db
            .prepare(STORED)
            .bind(std::slice::from_ref(&self.site))?
            .all()
            .await?
            .results()?;
        let diff = self.write_rows(&mut statements, &stored, &fresh)?;
        let rows = fresh.len();
        statements.push(self.statement(STATE_FULL, &[num(self.mark()), num(self.started)])?);
        statements.push(self.statement(
            RECORD,
            &[num(self.last_event), num(now()), num(rows as i64)],
        )?);
        // One transaction: readers see the old tables and state or the new ones.
        self.db.batch(statements).await?;
        Ok(Refresh {
            computed: true,
            mode: "full",
            pairs: pairs.len(),
            rows,
            written: diff.0,
            deleted: diff.1,
            visitors_changed: visitors.len(),
            products_recomputed: fresh.len() + diff.1,
            took_ms: now() - self.started,
        })
    }

    /// Applies what changed since `state_until` (and what left the window) to the state and
    /// recomputes the rows it reaches.
    async fn incremental(&self, state_until: i64, rows_before: usize) -> Result<Refresh> {
        // Events are re-read from a little before the mark (an ingest request that took its
        // receive time before the last refresh may have committed after it): harmless, as a
        // visit keeps the newest time of its kind.
        let since = (state_until - LATE_COMMIT_MS).max(self.cutoff);
        let first = self
            .db
            .batch(vec![
                self.statement(INTERACTIONS, &[num(since)])?,
                self.statement(EXPIRED_VISITORS, &[num(self.cutoff)])?,
            ])
            .await?;
        let [new, expired] = <[D1Result; 2]>::try_from(first)
            .map_err(|_| worker::Error::RustError("expected two results".into()))?;
        let new: Vec<Interaction> = new.results()?;
        let expired: Vec<VisitorRow> = expired.results()?;
        let mut candidates: BTreeSet<&str> = new.iter().map(|i| i.visitor.as_str()).collect();
        candidates.extend(expired.iter().map(|v| v.visitor.as_str()));
        let stored_visits: Vec<Interaction> = self
            .read_chunked(VISITS_OF, &[], json_chunks_items(&candidates))
            .await?;
        let mut names = Names::default();
        let mut old: HashMap<&str, Visits> = HashMap::new();
        for i in &stored_visits {
            let p = names.id(&i.product_id);
            old.entry(i.visitor.as_str())
                .or_default()
                .insert((p, i.weight as u8), i.last as i64);
        }
        let mut current: HashMap<&str, Visits> = candidates
            .iter()
            .map(|v| (*v, old.get(v).cloned().unwrap_or_default()))
            .collect();
        for i in &new {
            let p = names.id(&i.product_id);
            let at = current
                .entry(i.visitor.as_str())
                .or_default()
                .entry((p, i.weight as u8))
                .or_insert(0);
            *at = (*at).max(i.last as i64);
        }
        for visits in current.values_mut() {
            visits.retain(|_, t| *t > self.cutoff);
        }
        let empty = Visits::new();
        let rewritten: Vec<&str> = candidates
            .iter()
            .copied()
            .filter(|v| old.get(v).unwrap_or(&empty) != &current[v])
            .collect();
        let mut statements = Vec::new();
        self.write_chunked(&mut statements, VISITS_DELETE, &rewritten)?;
        self.write_chunked(
            &mut statements,
            VISITS_INSERT,
            rewritten.iter().flat_map(|v| {
                let names = &names;
                current[v]
                    .iter()
                    .map(move |(&(p, w), &t)| (v, names.name(p), w, t))
            }),
        )?;

        let mut changed_visitors: HashSet<&str> = HashSet::new();
        let mut recomputed = 0;
        let mut fresh = Vec::new();
        let mut stored_rows = Vec::new();
        for relation in RELATIONS {
            let sets: Vec<(&str, Set, Set)> = rewritten
                .iter()
                .map(|v| {
                    let before = set_of(old.get(v).unwrap_or(&empty), relation);
                    (*v, before, set_of(&current[v], relation))
                })
                .filter(|(_, before, after)| before != after)
                .collect();
            if sets.is_empty() {
                continue;
            }
            let touched: BTreeSet<u32> = sets
                .iter()
                .flat_map(|(_, a, b)| a.iter().chain(b).map(|e| e.0))
                .collect();
            let rel = JsValue::from(relation.as_str());
            let touched_names: Vec<String> =
                touched.iter().map(|&p| names.name(p).to_string()).collect();
            let pair_lists: Vec<PairList> = self
                .read_chunked(PAIRS_OF, std::slice::from_ref(&rel), &touched_names)
                .await?;
            let norm_list = self
                .db
                .prepare(NORMS)
                .bind(&[self.site.clone(), rel.clone()])?
                .first::<NormList>(None)
                .await?;
            let pairs = pairs_of(&pair_lists, &mut names)?;
            let mut norms = Vec::new();
            for (p, sum) in sums_of(norm_list.as_ref().map_or("[]", |l| l.norms.as_str()))? {
                norms.push((names.id(&p), sum));
            }
            let mut sums = Sums::from_parts(pairs, norms);
            for (v, before, after) in &sets {
                sums.replace(before, after, &SETTINGS);
                changed_visitors.insert(v);
            }
            let changes = sums.take_changes();
            let affected = sums.affected(&changes);
            let others: Vec<String> = affected
                .iter()
                .filter(|p| !touched.contains(p))
                .map(|&p| names.name(p).to_string())
                .collect();
            let more: Vec<PairList> = self
                .read_chunked(PAIRS_OF, std::slice::from_ref(&rel), &others)
                .await?;
            sums.load_pairs(pairs_of(&more, &mut names)?);
            let affected_names: Vec<&str> = affected.iter().map(|&p| names.name(p)).collect();
            stored_rows.extend(
                self.read_chunked::<NeighbourRow, _>(
                    STORED_OF,
                    std::slice::from_ref(&rel),
                    &affected_names,
                )
                .await?,
            );
            self.write_sums(&mut statements, relation, &sums, Some(&changes), &names)?;
            for (p, row) in sums.rows(|p| affected.contains(&p), &SETTINGS, names.order()) {
                fresh.push(fresh_row(relation, names.name(p), &row, &names)?);
            }
            recomputed += affected.len();
        }
        let (written, deleted) = self.write_rows(&mut statements, &stored_rows, &fresh)?;
        let stored_keys: HashSet<(&str, &str)> = stored_rows
            .iter()
            .map(|s| (s.relation.as_str(), s.product_id.as_str()))
            .collect();
        let created = fresh
            .iter()
            .filter(|(r, p, _)| !stored_keys.contains(&(r.as_str(), p.as_str())))
            .count();
        let rows = (rows_before + created).saturating_sub(deleted);
        statements.push(self.statement(STATE_UPDATE, &[num(self.mark())])?);
        statements.push(self.statement(
            RECORD,
            &[num(self.last_event), num(now()), num(rows as i64)],
        )?);
        // One transaction: readers see the old tables and state or the new ones.
        self.db.batch(statements).await?;
        let pairs: HashSet<(&str, &str)> = new
            .iter()
            .map(|i| (i.visitor.as_str(), i.product_id.as_str()))
            .collect();
        Ok(Refresh {
            computed: true,
            mode: "incremental",
            pairs: pairs.len(),
            rows,
            written,
            deleted,
            visitors_changed: changed_visitors.len(),
            products_recomputed: recomputed,
            took_ms: now() - self.started,
        })
    }

    /// Statements storing the pair sums and norms of `relation`: all of them (`changes` None,
    /// after [`RESET`]) or the changed ones (written, or deleted when they vanished).
    fn write_sums(
        &self,
        statements: &mut Vec<D1PreparedStatement>,
        relation: Relation,
        sums: &Sums,
        changes: Option<&Changes>,
        names: &Names,
    ) -> Result<()> {
        let rel = relation.as_str();
        let all_pairs: Vec<(u32, u32)>;
        let all_norms: Vec<u32>;
        let (pairs, norms) = match changes {
            Some(c) => (&c.pairs, &c.norms),
            None => {
                all_pairs = sums.pairs.keys().copied().collect();
                all_norms = sums.norms.keys().copied().collect();
                (&all_pairs, &all_norms)
            }
        };
        let (kept_pairs, gone_pairs): (Vec<_>, Vec<_>) =
            pairs.iter().partition(|k| sums.pairs.contains_key(k));
        self.write_chunked(
            statements,
            PAIRS_UPSERT,
            kept_pairs.iter().flat_map(|&&(a, b)| {
                let s = sums.pairs[&(a, b)];
                let (a, b) = (names.name(a), names.name(b));
                [
                    (rel, a, b, s.value, s.visitors),
                    (rel, b, a, s.value, s.visitors),
                ]
            }),
        )?;
        self.write_chunked(
            statements,
            PAIRS_DELETE,
            gone_pairs.iter().flat_map(|&&(a, b)| {
                let (a, b) = (names.name(a), names.name(b));
                [(rel, a, b), (rel, b, a)]
            }),
        )?;
        let (kept_norms, gone_norms): (Vec<_>, Vec<_>) =
            norms.iter().partition(|p| sums.norms.contains_key(p));
        self.write_chunked(
            statements,
            NORMS_UPSERT,
            kept_norms.iter().map(|&&p| {
                let s = sums.norms[&p];
                (rel, names.name(p), s.value, s.visitors)
            }),
        )?;
        self.write_chunked(
            statements,
            NORMS_DELETE,
            gone_norms.iter().map(|&&p| (rel, names.name(p))),
        )?;
        Ok(())
    }

    /// Statements writing the `fresh` rows that differ from `stored` and deleting the stored
    /// rows `fresh` lacks (both hold the same products); (written, deleted).
    fn write_rows(
        &self,
        statements: &mut Vec<D1PreparedStatement>,
        stored: &[NeighbourRow],
        fresh: &[(String, String, String)],
    ) -> Result<(usize, usize)> {
        // Stored rows by (relation, product): one lookup per fresh row.
        let stored_by_key: HashMap<(&str, &str), &str> = stored
            .iter()
            .map(|s| {
                (
                    (s.relation.as_str(), s.product_id.as_str()),
                    s.neighbours.as_str(),
                )
            })
            .collect();
        let changed: Vec<&(String, String, String)> = fresh
            .iter()
            .filter(|(r, p, text)| {
                stored_by_key.get(&(r.as_str(), p.as_str())) != Some(&text.as_str())
            })
            .collect();
        let fresh_keys: HashSet<(&str, &str)> = fresh
            .iter()
            .map(|(r, p, _)| (r.as_str(), p.as_str()))
            .collect();
        let vanished: Vec<String> = stored
            .iter()
            .filter(|s| !fresh_keys.contains(&(s.relation.as_str(), s.product_id.as_str())))
            .map(|s| format!("{} {}", s.relation, s.product_id))
            .collect();
        let now = num(now());
        for chunk in changed.chunks(CHUNK) {
            statements
                .push(self.statement(UPSERT, &[now.clone(), JsValue::from(to_json(chunk)?)])?);
        }
        for chunk in vanished.chunks(CHUNK) {
            statements.push(self.statement(DELETE, &[JsValue::from(to_json(chunk)?)])?);
        }
        Ok((changed.len(), vanished.len()))
    }
}

/// Items for an `IN (SELECT value FROM json_each(?))` list.
fn json_chunks_items<'a>(items: &'a BTreeSet<&'a str>) -> impl Iterator<Item = &'a str> + 'a {
    items.iter().copied()
}

/// A row as stored: (relation, product, neighbours as JSON `[[id, weight], ...]`).
fn fresh_row(
    relation: Relation,
    product: &str,
    row: &[(u32, f32)],
    names: &Names,
) -> Result<(String, String, String)> {
    let named: Vec<(&str, f32)> = row.iter().map(|&(q, w)| (names.name(q), w)).collect();
    Ok((
        relation.as_str().to_string(),
        product.to_string(),
        to_json(&named)?,
    ))
}

fn now() -> i64 {
    Date::now().as_millis() as i64
}

/// `POST /v1/admin/neighbours/refresh[?full=1]` (admin key): also folds new events into the
/// interaction counts (`popularity`, answered under `popularity`).
pub async fn refresh_now(req: Request, env: &Env) -> Result<Response> {
    let site = match auth::admin(&req, env)? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let full = req
        .url()?
        .query_pairs()
        .any(|(k, v)| k == "full" && (v == "1" || v == "true"));
    let db = env.d1("DB")?;
    let popularity = popularity::fold(&db, &site.id).await?;
    let Ok(done) = refresh(&db, &site.id, full).await? else {
        return reply::error(
            409,
            "refresh_running",
            "another refresh of the item-to-item tables is running; retry when it is done",
        );
    };
    let mut answer = json!(done);
    answer["popularity"] = json!(popularity);
    reply::json(200, &answer)
}

/// The cron trigger: folds new events into the interaction counts and refreshes the site's
/// tables.
pub async fn scheduled(env: &Env) -> Result<()> {
    let site = env.var("SITE_ID")?.to_string();
    let db = env.d1("DB")?;
    popularity::log(&popularity::fold(&db, &site).await);
    match refresh(&db, &site, false).await? {
        Ok(done) => worker::console_log!("neighbour refresh: {}", json!(done)),
        Err(Skipped::Running) => worker::console_log!("neighbour refresh: skipped, one is running"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_chunks_stay_under_the_parameter_size_and_keep_every_item() {
        let items: Vec<String> = (0..30_000).map(|i| format!("visitor-{i:06}")).collect();
        let chunks = json_chunks(&items).unwrap();
        assert!(chunks.len() > 1, "{} chunks", chunks.len());
        let mut back = Vec::new();
        for chunk in &chunks {
            assert!(chunk.len() <= PARAM_BYTES, "{}", chunk.len());
            back.extend(serde_json::from_str::<Vec<String>>(chunk).unwrap());
        }
        assert_eq!(back, items);
        assert!(json_chunks(Vec::<String>::new()).unwrap().is_empty());
    }

    #[test]
    fn a_visitors_sets_per_relation_keep_the_strongest_weight_in_the_window() {
        // Product 0 viewed and bought, product 1 viewed, product 2 carted.
        let visits: Visits = [((0, 1), 5), ((0, 10), 7), ((1, 1), 9), ((2, 3), 8)]
            .into_iter()
            .collect();
        assert_eq!(
            set_of(&visits, Relation::CoViewed),
            vec![(0, 10.0), (1, 1.0), (2, 3.0)]
        );
        assert_eq!(
            set_of(&visits, Relation::BoughtTogether),
            vec![(0, 10.0), (2, 3.0)]
        );
    }
}
