//! Ingestion: `POST /v1/batch` and Segment's single-event endpoints (`/v1/track`, `/v1/page`,
//! `/v1/identify`, `/v1/screen`, `/v1/group`, `/v1/alias`). Validate with `protocol`, store the
//! valid events in D1 in one statement, answer with a verdict per event.

use std::collections::{HashMap, HashSet};

use engine::enrich::{self, Device};
use engine::identity::Identifier;
use protocol::batch::{parse_batch, parse_single, BatchError, Checked};
use protocol::event::{message_id_of, validate_event, Sender, ValidEvent};
use protocol::ids::{is_uuid, VISITOR_COOKIE_MAX_AGE, VISITOR_COOKIE_SERVER_COPY};
use protocol::limits::{MAX_BATCH_BYTES, MAX_EVENT_BYTES};
use protocol::verdict::{BatchVerdict, EventVerdict, Status};
use protocol::yespo;
use serde::Deserialize;
use serde_json::json;
use worker::{wasm_bindgen::JsValue, Date, Env, Request, Response, Result};

use crate::auth::{self, Site};
use crate::cors::Caller;
use crate::{body, group_commit, identity, reply};

/// An ingest request stores its events with the time it received them, and commits them
/// within seconds (group commit takes over a lead silent for 2 s), so an event may appear
/// after a later event's fold or refresh mark with an earlier time: folds and refreshes re-read
/// this long before their mark (at-least-once reading; each counts a sighting or visit once).
pub(crate) const COMMITTED_WITHIN_MS: i64 = 60 * 1000;

/// One statement per batch: the events travel as one bound JSON parameter (local D1 allows at
/// most 100 bound parameters, and one round trip per event would cap ingest far lower; see
/// shared/handbook/measured-ceilings.md). `RETURNING` lists the rows that were new, so every
/// other valid event of the batch was a duplicate.
pub(crate) const INSERT_EVENTS: &str = "INSERT OR IGNORE INTO events \
    (site_id, message_id, type, event, anonymous_id, user_id, timestamp_ms, sent_at_ms, \
     received_at_ms, event_time_ms, raw, late, profile_id, browser, os, device, country, region, bot) \
  SELECT ?1, json_extract(j.value, '$.m'), json_extract(j.value, '$.k'), json_extract(j.value, '$.n'), \
     json_extract(j.value, '$.a'), json_extract(j.value, '$.u'), json_extract(j.value, '$.t'), \
     json_extract(j.value, '$.s'), ?2, json_extract(j.value, '$.c'), json_extract(j.value, '$.r'), \
     json_extract(j.value, '$.l'), \
     COALESCE(json_extract(j.value, '$.p'), (SELECT i.profile_id FROM identities i WHERE i.site_id = ?1 \
       AND i.kind = json_extract(j.value, '$.ik') AND i.value = json_extract(j.value, '$.iv'))), \
     json_extract(j.value, '$.eb'), json_extract(j.value, '$.eo'), json_extract(j.value, '$.ed'), \
     ?4, ?5, json_extract(j.value, '$.bot') \
  FROM json_each(?3) j \
  RETURNING message_id";

#[derive(Deserialize)]
struct Inserted {
    message_id: String,
}

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
        Err(refusal) => return Ok(refusal),
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
        Err(refusal) => return Ok(refusal),
    };
    let checked = match validate_event(&single.raw, None, site.sender) {
        Ok(event) => Checked::Valid(event),
        Err(rejection) => Checked::Rejected(message_id_of(&single.raw), rejection),
    };
    store(&req, env, caller, &site, vec![checked]).await
}

/// Stores the valid events and answers with the verdicts (and, for the shop's own pages, the
/// visitor cookie), after the per-key rate limit.
async fn store(
    req: &Request,
    env: &Env,
    caller: &Caller,
    site: &Site,
    checked: Vec<Checked>,
) -> Result<Response> {
    let sender = match site.sender {
        Sender::Browser => "write",
        Sender::Server => "server",
    };
    if let Some(refused) = crate::limits::key(env, &site.id, sender)? {
        return Ok(refused);
    }
    let received_ms = Date::now().as_millis() as i64;
    let db = env.d1("DB")?;
    // Identities and events go to D1 in one batch (one round trip, one transaction). Sightings
    // of several identifiers (a login, a server event with an email) are resolved first, with
    // one read; identifiers seen alone claim a profile of their own inside the batch.
    let origin = Origin::of(req, caller)?;
    // Each valid event's context is parsed once: its identifiers and its software come from it.
    let facts: Vec<Option<(Vec<Identifier>, Software)>> = checked
        .iter()
        .map(|c| match c {
            Checked::Valid(e) => {
                let context: serde_json::Value =
                    serde_json::from_str(&e.context).unwrap_or_default();
                Some((identity::sighting(e, &context), origin.software(&context)))
            }
            _ => None,
        })
        .collect();
    let mut sightings: Vec<Vec<Identifier>> = Vec::new();
    for (seen, _) in facts.iter().flatten() {
        if !seen.is_empty() && !sightings.contains(seen) {
            sightings.push(seen.clone());
        }
    }
    let (together, alone): (Vec<Vec<Identifier>>, Vec<Vec<Identifier>>) =
        sightings.into_iter().partition(|s| s.len() > 1);
    let alone: Vec<&Identifier> = alone.iter().flatten().collect();
    let identity::Changes {
        profiles,
        mut statements,
    } = identity::plan(&db, &site.id, &together, received_ms).await?;
    statements.extend(identity::claim(&db, &site.id, &alone, received_ms)?);
    let mut devices: HashMap<Software, Device> = HashMap::new();
    // Per checked event, whether it was flagged as a bot.
    let mut bots = vec![false; checked.len()];
    let rows: Vec<serde_json::Value> = checked
        .iter()
        .zip(&facts)
        .zip(bots.iter_mut())
        .filter_map(|((c, facts), bot)| match (c, facts) {
            (Checked::Valid(e), Some((seen, software))) => {
                let profile = together
                    .iter()
                    .position(|s| s == seen)
                    .and_then(|i| profiles.get(i))
                    .cloned();
                let device = devices.entry(software.clone()).or_insert_with(|| {
                    software
                        .as_ref()
                        .map_or_else(Device::default, |(agent, webdriver)| {
                            enrich::device(agent, *webdriver)
                        })
                });
                *bot = device.bot;
                Some(row(
                    e,
                    received_ms,
                    profile,
                    seen.first().filter(|_| seen.len() == 1),
                    device,
                ))
            }
            _ => None,
        })
        .collect();

    let mut stored = HashSet::new();
    let has_rows = !rows.is_empty();
    if has_rows {
        let params = [
            JsValue::from(site.id.as_str()),
            JsValue::from_f64(received_ms as f64),
            JsValue::from(serde_json::Value::Array(rows).to_string()),
            origin
                .country
                .as_deref()
                .map_or(JsValue::NULL, JsValue::from),
            origin
                .region
                .as_deref()
                .map_or(JsValue::NULL, JsValue::from),
        ];
        statements.push(db.prepare(INSERT_EVENTS).bind(&params)?);
    }
    if !statements.is_empty() {
        let results = group_commit::batch(&db, statements).await?;
        // The insert is the batch's last statement; its RETURNING rows are the new events.
        if let Some(inserted) = results.last().filter(|_| has_rows) {
            for r in inserted.results::<Inserted>()? {
                stored.insert(r.message_id);
            }
        }
    }
    // The new events count in this isolate's cached popularity at once (bots never count).
    let counted = checked.iter().zip(&bots).filter_map(|(c, bot)| match c {
        Checked::Valid(e) if !bot && stored.contains(&e.message_id) => Some(e),
        _ => None,
    });
    crate::recommendations::record(&site.id, received_ms, counted);

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

/// Sets the server copy of the visitor cookie: Safari caps cookies written by scripts at 7 days,
/// but not cookies set by the site's own server; the tracker restores its cookie from this copy.
fn set_visitor_cookie(req: &Request, resp: &Response, visitor: &str) -> Result<()> {
    let secure = if req.url()?.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{VISITOR_COOKIE_SERVER_COPY}={visitor}; Path=/; Max-Age={VISITOR_COOKIE_MAX_AGE}; SameSite=Lax{secure}");
    resp.headers().append("set-cookie", &cookie)
}

/// The compact row shape `INSERT_EVENTS` reads with `json_extract`.
/// `profile` is the resolved profile of an event seen with several identifiers; `alone` the one
/// identifier of the others, whose profile the insert looks up.
fn row(
    e: &ValidEvent,
    received_ms: i64,
    profile: Option<String>,
    alone: Option<&Identifier>,
    device: &Device,
) -> serde_json::Value {
    json!({
        "m": e.message_id, "k": e.kind, "n": e.name, "a": e.anonymous_id, "u": e.user_id,
        "t": e.timestamp_ms, "s": e.sent_at_ms, "c": e.corrected_time_ms(received_ms), "r": e.raw,
        "l": i32::from(e.is_late(received_ms)), "p": profile,
        "ik": alone.map(|id| id.kind), "iv": alone.map(|id| id.value.as_str()),
        "eb": non_empty(&device.browser), "eo": non_empty(&device.os), "ed": non_empty(&device.category),
        "bot": i32::from(device.bot),
    })
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// An event's user agent and `navigator.webdriver` report, if it has a user agent at all.
type Software = Option<(String, bool)>;

/// What the request itself tells about where its events come from.
struct Origin {
    /// Country from the runtime's request metadata (`request.cf`), when present.
    country: Option<String>,
    /// Region from the same metadata.
    region: Option<String>,
    /// The request's `User-Agent`, used for browser callers' events that carry none.
    browser_user_agent: Option<String>,
}

impl Origin {
    fn of(req: &Request, caller: &Caller) -> Result<Self> {
        let cf = req.cf();
        let browser = !matches!(caller, Caller::Server);
        Ok(Origin {
            country: cf.and_then(|c| c.country()).filter(|c| !c.is_empty()),
            region: cf.and_then(|c| c.region()).filter(|r| !r.is_empty()),
            browser_user_agent: if browser {
                req.headers().get("user-agent")?
            } else {
                None
            },
        })
    }

    /// The event's user agent (its own `context.userAgent`, else the browser's request header)
    /// and whether the browser reported `navigator.webdriver`. Server events without a user
    /// agent have none: a backend posting an offline sale is not a bot.
    fn software(&self, context: &serde_json::Value) -> Software {
        let agent = context
            .get("userAgent")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        let webdriver = context
            .get("webdriver")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        Some((
            agent.or_else(|| self.browser_user_agent.clone())?,
            webdriver,
        ))
    }
}

fn refuse(e: &BatchError) -> Result<Response> {
    reply::json(e.status(), &e.body())
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
        Err(refusal) => return Ok(refusal),
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
