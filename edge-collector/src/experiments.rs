//! `GET /v1/admin/experiments/report?test=KEY[&variants=A,B]` (admin key): the A/B report of
//! one test, counted by `engine::experiment_report` from the stored events.
//!
//! A test's events are the on-site events (`protocol::experiment`) whose `widget_id` or
//! `placement` property is KEY and that carry a `variant`; purchases are the `Order Completed`
//! events of the profiles that clicked or submitted. `variants` names the configured order
//! (the first is the baseline); without it variants are sorted by name.

use engine::experiment_report::{report, Action, Purchase, VariantEvent, ATTRIBUTION_WINDOW_MS};
use protocol::ecommerce::ORDER_COMPLETED;
use protocol::experiment::{
    BLOCK_VIEWED, PLACEMENT, PRODUCT_CLICKED, VARIANT, WIDGET_ID, WIDGET_SHOWN, WIDGET_SUBMITTED,
};
use serde::Deserialize;
use serde_json::json;
use worker::{wasm_bindgen::JsValue, Env, Request, Response, Result};

use crate::{auth, reply};

/// Most events one report reads (a test far larger needs pre-aggregation, as recommendations
/// will get).
const MAX_EVENTS: usize = 200_000;

/// The profile an event belongs to now (one merge hop; `events.profile_id` is set at arrival).
const PROFILE: &str = "COALESCE(p.merged_into, e.profile_id, e.anonymous_id)";

pub(crate) fn events_sql() -> String {
    [
        "SELECT e.event AS event, ",
        PROFILE,
        " AS profile, CAST(json_extract(e.raw, '$.properties.' || ?6) AS TEXT) AS variant, \
         e.event_time_ms AS time_ms FROM events e INDEXED BY events_by_name LEFT JOIN profiles p \
         ON p.site_id = e.site_id AND p.profile_id = e.profile_id \
         WHERE e.site_id = ?1 AND e.event IN (?2, ?3, ?4, ?5) \
         AND (json_extract(e.raw, '$.properties.' || ?7) = ?9 \
           OR json_extract(e.raw, '$.properties.' || ?8) = ?9) \
         AND json_extract(e.raw, '$.properties.' || ?6) IS NOT NULL LIMIT ",
        &MAX_EVENTS.to_string(),
    ]
    .concat()
}

pub(crate) fn purchases_sql() -> String {
    [
        "SELECT ",
        PROFILE,
        " AS profile, e.event_time_ms AS time_ms FROM events e INDEXED BY events_by_name LEFT JOIN profiles p \
         ON p.site_id = e.site_id AND p.profile_id = e.profile_id \
         WHERE e.site_id = ?1 AND e.event = ?2 AND e.event_time_ms >= ?4 AND ",
        PROFILE,
        " IN (SELECT value FROM json_each(?3)) LIMIT ",
        &MAX_EVENTS.to_string(),
    ]
    .concat()
}

#[derive(Deserialize)]
struct EventRow {
    event: String,
    profile: Option<String>,
    variant: Option<String>,
    time_ms: f64,
}

#[derive(Deserialize)]
struct PurchaseRow {
    profile: Option<String>,
    time_ms: f64,
}

/// Answers the report.
pub async fn serve(req: Request, env: &Env) -> Result<Response> {
    let site = match auth::admin(&req, env)? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let url = req.url()?;
    let mut test = String::new();
    let mut order = String::new();
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "test" => test = value.into_owned(),
            "variants" => order = value.into_owned(),
            _ => {}
        }
    }
    if test.trim().is_empty() || test.len() > 200 {
        return reply::error(
            400,
            "missing_test",
            "name the test: ?test=WIDGET_ID_OR_PLACEMENT",
        );
    }
    let order: Vec<&str> = order
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();

    let db = env.d1("DB")?;
    let site_id = JsValue::from(site.id.as_str());
    let params = [
        site_id.clone(),
        WIDGET_SHOWN.into(),
        BLOCK_VIEWED.into(),
        PRODUCT_CLICKED.into(),
        WIDGET_SUBMITTED.into(),
        VARIANT.into(),
        WIDGET_ID.into(),
        PLACEMENT.into(),
        test.as_str().into(),
    ];
    let rows: Vec<EventRow> = db
        .prepare(events_sql())
        .bind(&params)?
        .all()
        .await?
        .results()?;
    let events: Vec<VariantEvent> = rows
        .into_iter()
        .filter_map(|r| {
            let action = match r.event.as_str() {
                e if e == WIDGET_SHOWN || e == BLOCK_VIEWED => Action::Impression,
                e if e == PRODUCT_CLICKED => Action::Click,
                e if e == WIDGET_SUBMITTED => Action::Submit,
                _ => return None,
            };
            Some(VariantEvent {
                profile: r.profile?,
                variant: r.variant.filter(|v| !v.is_empty())?,
                action,
                time_ms: r.time_ms as i64,
            })
        })
        .collect();
    let touched: std::collections::BTreeSet<&str> = events
        .iter()
        .filter(|e| e.action != Action::Impression)
        .map(|e| e.profile.as_str())
        .collect();
    let first_touch = events
        .iter()
        .filter(|e| e.action != Action::Impression)
        .map(|e| e.time_ms)
        .min();
    let purchases: Vec<Purchase> = match first_touch {
        None => Vec::new(),
        Some(since) => {
            let profiles = serde_json::to_string(&touched).unwrap_or_else(|_| "[]".into());
            let rows: Vec<PurchaseRow> = db
                .prepare(purchases_sql())
                .bind(&[
                    site_id,
                    ORDER_COMPLETED.into(),
                    profiles.into(),
                    JsValue::from_f64(since as f64),
                ])?
                .all()
                .await?
                .results()?;
            rows.into_iter()
                .filter_map(|r| {
                    Some(Purchase {
                        profile: r.profile?,
                        time_ms: r.time_ms as i64,
                    })
                })
                .collect()
        }
    };
    let counted = report(&events, &purchases, &order);
    reply::json(
        200,
        &json!({
            "test": test,
            "confidence": 0.95,
            "attributionWindowDays": ATTRIBUTION_WINDOW_MS / (24 * 3600 * 1000),
            "baseline": counted.baseline,
            "variants": counted.variants,
        }),
    )
}
