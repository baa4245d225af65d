//! Ingestion: `POST /v1/batch` and Segment's single-event endpoints (`/v1/track`, `/v1/page`,
//! `/v1/identify`, `/v1/screen`, `/v1/group`, `/v1/alias`). Validate with `protocol`, store the
//! valid events in D1 in one statement, answer with a verdict per event.

use std::collections::HashSet;

use protocol::batch::{parse_batch, parse_single, BatchError, Checked};
use protocol::event::{message_id_of, validate_event, Sender, ValidEvent};
use protocol::ids::{is_uuid, VISITOR_COOKIE, VISITOR_COOKIE_MAX_AGE};
use protocol::limits::{MAX_BATCH_BYTES, MAX_EVENT_BYTES};
use protocol::verdict::{BatchVerdict, EventVerdict, Status};
use protocol::yespo;
use serde::Deserialize;
use serde_json::json;
use worker::{wasm_bindgen::JsValue, Date, Env, Request, Response, Result};

use crate::auth::{self, Site};
use crate::cors::Caller;
use crate::{body, identity, reply};

/// One statement per batch: the events travel as one bound JSON parameter (local D1 allows at
/// most 100 bound parameters, and one round trip per event would cap ingest far lower; see
/// shared/handbook/measured-ceilings.md). `RETURNING` lists the rows that were new, so every
/// other valid event of the batch was a duplicate.
const INSERT_EVENTS: &str = "INSERT OR IGNORE INTO events \
    (site_id, message_id, type, event, anonymous_id, user_id, timestamp_ms, sent_at_ms, \
     received_at_ms, event_time_ms, raw, late, profile_id) \
  SELECT ?1, json_extract(value, '$.m'), json_extract(value, '$.k'), json_extract(value, '$.n'), \
     json_extract(value, '$.a'), json_extract(value, '$.u'), json_extract(value, '$.t'), \
     json_extract(value, '$.s'), ?2, json_extract(value, '$.c'), json_extract(value, '$.r'), \
     json_extract(value, '$.l'), json_extract(value, '$.p') \
  FROM json_each(?3) \
  RETURNING message_id";

#[derive(Deserialize)]
struct Inserted {
    message_id: String,
}

const KEY_HOW: &str = "as HTTP Basic auth user name or as `writeKey` in the body";

/// Handles `POST /v1/batch`.
pub async fn batch(mut req: Request, env: &Env, caller: &Caller) -> Result<Response> {
    let body = match body::read(&mut req, MAX_BATCH_BYTES).await? {
        Ok(body) => body,
        Err(e) => return refuse(&e),
    };
    let batch = match parse_batch(&body) {
        Ok(batch) => batch,
        Err(e) => return refuse(&e),
    };
    let site = match auth::writer(&req, env, batch.write_key.as_deref())? {
        Ok(site) => site,
        Err(e) => return unauthorised(&e),
    };
    store(&req, env, caller, &site, batch.validate(site.sender)).await
}

/// Handles a single-event endpoint; `kind` comes from the path.
pub async fn single(
    mut req: Request,
    env: &Env,
    caller: &Caller,
    kind: &'static str,
) -> Result<Response> {
    let body = match body::read(&mut req, MAX_EVENT_BYTES).await? {
        Ok(body) => body,
        Err(e) => return refuse(&e),
    };
    let single = match parse_single(&body, kind) {
        Ok(single) => single,
        Err(e) => return refuse(&e),
    };
    let site = match auth::writer(&req, env, single.write_key.as_deref())? {
        Ok(site) => site,
        Err(e) => return unauthorised(&e),
    };
    let checked = match validate_event(&single.raw, None, site.sender) {
        Ok(event) => Checked::Valid(event),
        Err(rejection) => Checked::Rejected(message_id_of(&single.raw), rejection),
    };
    store(&req, env, caller, &site, vec![checked]).await
}

/// Stores the valid events and answers with the verdicts (and, for the shop's own pages, the
/// visitor cookie).
async fn store(
    req: &Request,
    env: &Env,
    caller: &Caller,
    site: &Site,
    checked: Vec<Checked>,
) -> Result<Response> {
    let received_ms = Date::now().as_millis() as i64;
    let db = env.d1("DB")?;
    // Identities first, so every stored event carries the profile it belongs to.
    let sightings = identity::sightings(&checked);
    let profiles = identity::update(&db, &site.id, &sightings, received_ms).await?;
    let profile_of = |e: &ValidEvent| {
        let seen = identity::sighting(e);
        sightings
            .iter()
            .position(|s| *s == seen)
            .and_then(|i| profiles.get(i))
            .cloned()
    };
    let rows: Vec<serde_json::Value> = checked
        .iter()
        .filter_map(|c| match c {
            Checked::Valid(e) => Some(row(e, received_ms, profile_of(e))),
            _ => None,
        })
        .collect();

    let mut stored = HashSet::new();
    if !rows.is_empty() {
        let params = [
            JsValue::from(site.id.as_str()),
            JsValue::from_f64(received_ms as f64),
            JsValue::from(serde_json::Value::Array(rows).to_string()),
        ];
        let result = db.prepare(INSERT_EVENTS).bind(&params)?.all().await?;
        for r in result.results::<Inserted>()? {
            stored.insert(r.message_id);
        }
    }

    let visitor = single_visitor(&checked);
    let verdicts = checked
        .into_iter()
        .map(|c| match c {
            Checked::Valid(e) => EventVerdict {
                status: if stored.contains(&e.message_id) {
                    Status::Accepted
                } else {
                    Status::Duplicate
                },
                message_id: Some(e.message_id),
                reason: None,
                detail: None,
            },
            other => other
                .settled_verdict()
                .expect("repeats and rejections are settled"),
        })
        .collect();
    let resp = reply::json(200, &BatchVerdict::from_events(verdicts))?;
    if let (Caller::SameOrigin, Some(visitor)) = (caller, visitor) {
        set_visitor_cookie(req, &resp, &visitor)?;
    }
    Ok(resp)
}

/// The anonymous ID all valid events of the request share, if they share exactly one and it has
/// the tracker's UUID form.
fn single_visitor(checked: &[Checked]) -> Option<String> {
    let mut ids = checked.iter().filter_map(|c| match c {
        Checked::Valid(e) => e.anonymous_id.as_deref(),
        _ => None,
    });
    let first = ids.next()?;
    (is_uuid(first) && ids.all(|id| id == first)).then(|| first.to_string())
}

/// Re-sets the visitor cookie from the server: Safari caps cookies written by scripts at 7 days,
/// but not cookies set by the site's own server.
fn set_visitor_cookie(req: &Request, resp: &Response, visitor: &str) -> Result<()> {
    let secure = if req.url()?.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{VISITOR_COOKIE}={visitor}; Path=/; Max-Age={VISITOR_COOKIE_MAX_AGE}; SameSite=Lax{secure}");
    resp.headers().append("set-cookie", &cookie)
}

/// The compact row shape `INSERT_EVENTS` reads with `json_extract`.
fn row(e: &ValidEvent, received_ms: i64, profile: Option<String>) -> serde_json::Value {
    json!({
        "m": e.message_id, "k": e.kind, "n": e.name, "a": e.anonymous_id, "u": e.user_id,
        "t": e.timestamp_ms, "s": e.sent_at_ms, "c": e.corrected_time_ms(received_ms), "r": e.raw,
        "l": i32::from(e.is_late(received_ms)), "p": profile,
    })
}

fn refuse(e: &BatchError) -> Result<Response> {
    reply::json(e.status(), &e.body())
}

fn unauthorised(e: &auth::AuthError) -> Result<Response> {
    let (code, message) = e.describe(KEY_HOW);
    reply::error(401, code, message)
}

/// Handles `POST /api/v2/event`: Yespo's "generate event" body (one event or a list), sent by a
/// backend with the server key (Yespo puts its API key in the Basic auth password).
pub async fn yespo(mut req: Request, env: &Env, caller: &Caller) -> Result<Response> {
    let body = match body::read(&mut req, MAX_BATCH_BYTES).await? {
        Ok(body) => body,
        Err(e) => return refuse(&e),
    };
    let site = match auth::writer(&req, env, None)? {
        Ok(site) if site.sender == Sender::Server => site,
        Ok(_) => {
            let message = "Yespo-format events come from backends: use the server key, not the public write key";
            return reply::error(403, "server_key_required", message);
        }
        Err(e) => return unauthorised(&e),
    };
    let parsed = std::str::from_utf8(&body)
        .map_err(|_| BatchError::InvalidUtf8)
        .and_then(|text| {
            serde_json::from_str(text).map_err(|e| BatchError::MalformedJson(e.to_string()))
        });
    let events = match parsed.map(yespo::events_of) {
        Ok(Ok(events)) => events,
        Ok(Err(message)) => return reply::error(400, "invalid_field", message),
        Err(e) => return refuse(&e),
    };
    let mut seen = HashSet::new();
    let checked = events
        .iter()
        .map(|event| {
            match yespo::to_segment(event)
                .and_then(|raw| validate_event(&raw, None, Sender::Server))
            {
                Ok(valid) if !seen.insert(valid.message_id.clone()) => {
                    Checked::RepeatInBatch(valid.message_id)
                }
                Ok(valid) => Checked::Valid(valid),
                Err(rejection) => Checked::Rejected(None, rejection),
            }
        })
        .collect();
    store(&req, env, caller, &site, checked).await
}
