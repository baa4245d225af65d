//! `POST /v1/batch`: validate with `protocol`, store the valid events in D1 in one statement,
//! answer with a verdict per event.

use protocol::batch::{parse_batch, BatchError, Checked};
use protocol::event::ValidEvent;
use protocol::limits::MAX_BATCH_BYTES;
use protocol::verdict::{BatchVerdict, EventVerdict, Status};
use serde::Deserialize;
use serde_json::json;
use worker::{wasm_bindgen::JsValue, Date, Env, Request, Response, Result};

use crate::{auth, reply};

/// One statement per batch: the events travel as one bound JSON parameter (local D1 allows at
/// most 100 bound parameters, and one round trip per event would cap ingest far lower; see
/// shared/handbook/measured-ceilings.md). `RETURNING` lists the rows that were new, so every
/// other valid event of the batch was a duplicate.
const INSERT_EVENTS: &str = "INSERT OR IGNORE INTO events \
    (site_id, message_id, type, event, anonymous_id, user_id, timestamp_ms, sent_at_ms, \
     received_at_ms, event_time_ms, raw) \
  SELECT ?1, json_extract(value, '$.m'), json_extract(value, '$.k'), json_extract(value, '$.n'), \
     json_extract(value, '$.a'), json_extract(value, '$.u'), json_extract(value, '$.t'), \
     json_extract(value, '$.s'), ?2, json_extract(value, '$.c'), json_extract(value, '$.r') \
  FROM json_each(?3) \
  RETURNING message_id";

#[derive(Deserialize)]
struct Inserted {
    message_id: String,
}

/// Handles `POST /v1/batch`.
pub async fn batch(mut req: Request, env: &Env) -> Result<Response> {
    // Refuse announced oversize bodies before reading them.
    let announced = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(bytes) = announced.filter(|&b| b > MAX_BATCH_BYTES) {
        return batch_error(&BatchError::TooLarge { bytes });
    }
    let body = req.bytes().await?;
    let batch = match parse_batch(&body) {
        Ok(batch) => batch,
        Err(e) => return batch_error(&e),
    };
    let site = match auth::writer(&req, env, batch.write_key.as_deref())? {
        Ok(site) => site,
        Err(e) => {
            let (code, message) =
                e.describe("as HTTP Basic auth user name or as `writeKey` in the body");
            return reply::error(401, code, message);
        }
    };

    let received_ms = Date::now().as_millis() as i64;
    let checked = batch.validate();
    let rows: Vec<serde_json::Value> = checked
        .iter()
        .filter_map(|c| match c {
            Checked::Valid(e) => Some(row(e, received_ms)),
            _ => None,
        })
        .collect();

    let mut stored = std::collections::HashSet::new();
    if !rows.is_empty() {
        let db = env.d1("DB")?;
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
    reply::json(200, &BatchVerdict::from_events(verdicts))
}

/// The compact row shape `INSERT_EVENTS` reads with `json_extract`.
fn row(e: &ValidEvent, received_ms: i64) -> serde_json::Value {
    json!({
        "m": e.message_id, "k": e.kind, "n": e.name, "a": e.anonymous_id, "u": e.user_id,
        "t": e.timestamp_ms, "s": e.sent_at_ms, "c": e.corrected_time_ms(received_ms), "r": e.raw,
    })
}

fn batch_error(e: &BatchError) -> Result<Response> {
    let body = e.body();
    reply::json(e.status(), &body)
}
