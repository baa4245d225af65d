//! The item-to-item tables (co-viewed, bought together) computed from the stored interactions
//! and kept in D1 (`product_neighbours`, migration 0009), refreshed by the worker's cron trigger
//! (`wrangler.toml` `[triggers] crons`) and by `POST /v1/admin/neighbours/refresh` (admin key;
//! `?full=1` recomputes even when no event arrived since the last refresh).
//!
//! Incremental where it is cheap: a refresh that finds no event newer than the last one does
//! nothing, and only rows whose content changed are written (vanished rows are deleted), so a
//! quiet catalogue costs one read. The co-occurrence itself is recomputed over the window.

use std::collections::{HashMap, HashSet};

use engine::recommenders::{neighbour_rows, NEIGHBOURS_KEPT};
use serde::Deserialize;
use serde_json::json;
use worker::{wasm_bindgen::JsValue, D1Database, Date, Env, Request, Response, Result};

use crate::recommendations::NeighbourRow;
use crate::{auth, popularity, reply};

/// How far back interactions count for the tables.
const WINDOW_MS: i64 = 90 * 24 * 3600 * 1000;
/// Rows written per statement.
const CHUNK: usize = 200;

const LAST_EVENT: &str = "SELECT MAX(received_at_ms) AS last FROM events WHERE site_id = ?1";
const LAST_REFRESH: &str =
    "SELECT events_until_ms AS last FROM neighbour_refreshes WHERE site_id = ?1";

/// Each (visitor, product) pair once, with its strongest interaction's weight (view 1, cart 3,
/// purchase 10); visitors are profiles where known. Bots left out.
const LOAD_PAIRS: &str = "SELECT visitor, product_id, MAX(weight) AS weight FROM ( \
    SELECT COALESCE(profile_id, user_id, anonymous_id) AS visitor, \
           CAST(json_extract(raw, '$.properties.product_id') AS TEXT) AS product_id, 1 AS weight \
      FROM events WHERE site_id = ?1 AND event = 'Product Viewed' AND received_at_ms > ?2 AND bot = 0 \
    UNION ALL \
    SELECT COALESCE(e.profile_id, e.user_id, e.anonymous_id), \
           CAST(json_extract(line.value, '$.product_id') AS TEXT), \
           CASE e.event WHEN 'Order Completed' THEN 10 ELSE 3 END \
      FROM events e, json_each(e.raw, '$.properties.products') line \
      WHERE e.site_id = ?1 AND e.event IN ('Cart Updated', 'Order Completed') AND e.received_at_ms > ?2 \
        AND e.bot = 0 \
  ) WHERE product_id IS NOT NULL AND visitor IS NOT NULL GROUP BY visitor, product_id";

const STORED: &str =
    "SELECT relation, product_id, neighbours FROM product_neighbours WHERE site_id = ?1";
const UPSERT: &str = "INSERT INTO product_neighbours (site_id, relation, product_id, neighbours, updated_at_ms) \
    SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), ?2 \
    FROM json_each(?3) WHERE true \
    ON CONFLICT (site_id, product_id, relation) DO UPDATE SET neighbours = excluded.neighbours, \
      updated_at_ms = excluded.updated_at_ms";
const DELETE: &str = "DELETE FROM product_neighbours WHERE site_id = ?1 \
    AND relation || ' ' || product_id IN (SELECT value FROM json_each(?2))";
const RECORD: &str = "INSERT INTO neighbour_refreshes (site_id, events_until_ms, refreshed_at_ms, rows) \
    VALUES (?1, ?2, ?3, ?4) ON CONFLICT (site_id) DO UPDATE SET events_until_ms = excluded.events_until_ms, \
      refreshed_at_ms = excluded.refreshed_at_ms, rows = excluded.rows";

#[derive(Deserialize)]
struct Last {
    last: Option<f64>,
}

#[derive(Deserialize)]
struct Pair {
    visitor: String,
    product_id: String,
    weight: f64,
}

/// What a refresh did.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refresh {
    /// False when no event arrived since the last refresh (nothing was computed).
    pub computed: bool,
    /// (visitor, product) pairs read.
    pub pairs: usize,
    /// Rows in the tables now.
    pub rows: usize,
    /// Rows written because they are new or changed.
    pub written: usize,
    /// Rows deleted because their product has no neighbours any more.
    pub deleted: usize,
    /// Time taken, ms.
    pub took_ms: i64,
}

/// Recomputes the tables of `site` (unless nothing changed and `full` is false) and stores
/// what changed.
pub async fn refresh(db: &D1Database, site: &str, full: bool) -> Result<Refresh> {
    let started = Date::now().as_millis() as i64;
    let site_param = JsValue::from(site);
    let one = |sql: &'static str| db.prepare(sql).bind(std::slice::from_ref(&site_param));
    let last_event = one(LAST_EVENT)?
        .first::<Last>(None)
        .await?
        .and_then(|l| l.last);
    let last_refresh = one(LAST_REFRESH)?
        .first::<Last>(None)
        .await?
        .and_then(|l| l.last);
    if !full && last_refresh.is_some() && last_event <= last_refresh {
        return Ok(Refresh::default());
    }
    let pairs: Vec<Pair> = db
        .prepare(LOAD_PAIRS)
        .bind(&[
            site_param.clone(),
            JsValue::from_f64((started - WINDOW_MS) as f64),
        ])?
        .all()
        .await?
        .results()?;
    let triples: Vec<(String, String, f32)> = pairs
        .into_iter()
        .map(|p| (p.visitor, p.product_id, p.weight as f32))
        .collect();
    let rows = neighbour_rows(&triples, NEIGHBOURS_KEPT);
    let stored: Vec<NeighbourRow> = one(STORED)?.all().await?.results()?;
    let mut fresh: Vec<(String, String, String)> = Vec::with_capacity(rows.len());
    for (relation, product, row) in &rows {
        let text =
            serde_json::to_string(row).map_err(|e| worker::Error::RustError(e.to_string()))?;
        fresh.push((relation.as_str().to_string(), product.clone(), text));
    }
    // Stored rows by (relation, product): one lookup per fresh row instead of a scan.
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
        .filter(|(r, p, text)| stored_by_key.get(&(r.as_str(), p.as_str())) != Some(&text.as_str()))
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
    let now = JsValue::from_f64(Date::now().as_millis() as f64);
    let mut statements = Vec::new();
    for chunk in changed.chunks(CHUNK) {
        let json =
            serde_json::to_string(chunk).map_err(|e| worker::Error::RustError(e.to_string()))?;
        statements.push(db.prepare(UPSERT).bind(&[
            site_param.clone(),
            now.clone(),
            JsValue::from(json),
        ])?);
    }
    for chunk in vanished.chunks(CHUNK) {
        let json =
            serde_json::to_string(chunk).map_err(|e| worker::Error::RustError(e.to_string()))?;
        statements.push(
            db.prepare(DELETE)
                .bind(&[site_param.clone(), JsValue::from(json)])?,
        );
    }
    statements.push(db.prepare(RECORD).bind(&[
        site_param.clone(),
        JsValue::from_f64(last_event.unwrap_or(0.0)),
        now,
        JsValue::from(fresh.len() as u32),
    ])?);
    // One transaction: readers see the old tables or the new ones.
    db.batch(statements).await?;
    Ok(Refresh {
        computed: true,
        pairs: triples.len(),
        rows: fresh.len(),
        written: changed.len(),
        deleted: vanished.len(),
        took_ms: Date::now().as_millis() as i64 - started,
    })
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
    let done = refresh(&db, &site.id, full).await?;
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
    let done = refresh(&db, &site, false).await?;
    worker::console_log!("neighbour refresh: {}", json!(done));
    Ok(())
}
