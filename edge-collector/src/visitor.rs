//! `GET /v1/visitor?writeKey=...&anonymousId=...`: what a visitor's profile says for the widgets'
//! targeting: the segments of `engine::segments` and the open cart's value, from the profile
//! summary. Browsers send their own anonymous ID (only with consent to tracking); the answer
//! names segments and a cart total, nothing that identifies anyone.

use engine::identity::{IdKind, Identifier};
use engine::profile::summarize;
use protocol::site_config::{subscribe as sub, visitor as names};
use serde_json::json;
use worker::{Date, Env, Request, Response, Result};

use crate::profiles::{current_profile, profile_events, EventRow};
use crate::{auth, reply};

/// The visitor's current profile (merges followed), then its latest events on every device.
pub(crate) const EVENTS: &str = concat!(
    current_profile!(),
    "SELECT raw, type, event, event_time_ms FROM events INDEXED BY events_by_profile \
      WHERE site_id = ?1 AND profile_id IN (SELECT id FROM mine) \
      ORDER BY event_time_ms DESC LIMIT 1000"
);

/// Handles the request.
pub async fn serve(req: Request, env: &Env) -> Result<Response> {
    let url = req.url()?;
    let query = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let site = match auth::writer(&req, env, query(sub::WRITE_KEY).as_deref())? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let Some(visitor) = query(sub::ANONYMOUS_ID)
        .filter(|a| a.len() <= 64)
        .and_then(|a| Identifier::new(IdKind::Anonymous, &a))
    else {
        return reply::error(
            400,
            "invalid_anonymous_id",
            "send the visitor's `anonymousId`",
        );
    };
    let rows: Vec<EventRow> = env
        .d1("DB")?
        .prepare(EVENTS)
        .bind(&[site.id.as_str().into(), visitor.value.as_str().into()])?
        .all()
        .await?
        .results()?;
    let mut events = profile_events(rows);
    events.reverse();
    let summary = summarize(&events, Date::now().as_millis() as i64);
    let cart = (!summary.cart.lines.is_empty()).then_some(summary.cart.value);
    reply::json(
        200,
        &json!({
            names::SEGMENTS: engine::segments::of(&summary),
            names::CART_VALUE: cart,
        }),
    )
}
