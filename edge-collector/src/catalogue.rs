//! `POST /v1/admin/catalogue`: import the shop's product feed into D1.

use engine::feed::parse_merchant_feed;
use serde_json::json;
use worker::{wasm_bindgen::JsValue, Date, Env, Request, Response, Result};

use crate::{auth, reply};

/// Largest feed accepted in one request. Bigger catalogues are sent in parts with `?mode=partial`.
const MAX_FEED_BYTES: usize = 20 * 1024 * 1024;
/// Products written per statement (bounded so one statement stays small).
const CHUNK: usize = 500;

const UPSERT_PRODUCTS: &str = "INSERT INTO products \
    (site_id, id, title, price, old_price, currency, category, available, image, url, brand, \
     feed_position, updated_at_ms) \
  SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.title'), \
     json_extract(value, '$.price'), json_extract(value, '$.old_price'), \
     json_extract(value, '$.currency'), json_extract(value, '$.category'), \
     json_extract(value, '$.available'), json_extract(value, '$.image'), \
     json_extract(value, '$.url'), json_extract(value, '$.brand'), \
     json_extract(value, '$.position'), ?2 \
  FROM json_each(?3) WHERE true \
  ON CONFLICT (site_id, id) DO UPDATE SET title = excluded.title, price = excluded.price, \
     old_price = excluded.old_price, currency = excluded.currency, category = excluded.category, \
     available = excluded.available, image = excluded.image, url = excluded.url, \
     brand = excluded.brand, feed_position = excluded.feed_position, \
     updated_at_ms = excluded.updated_at_ms";

/// A full feed lists the whole catalogue: what it no longer lists cannot be bought.
const RETIRE_MISSING: &str =
    "UPDATE products SET available = 0, updated_at_ms = ?2 WHERE site_id = ?1 AND updated_at_ms < ?2";

/// Handles the feed import. The body is a Google Merchant Center XML feed.
pub async fn import(mut req: Request, env: &Env) -> Result<Response> {
    let site = match auth::admin(&req, env)? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let full = !req
        .url()?
        .query_pairs()
        .any(|(k, v)| k == "mode" && v == "partial");
    let body = req.bytes().await?;
    if body.len() > MAX_FEED_BYTES {
        return reply::error(
            413,
            "feed_too_large",
            format!("send at most {MAX_FEED_BYTES} bytes per request"),
        );
    }
    let Ok(xml) = std::str::from_utf8(&body) else {
        return reply::error(400, "invalid_utf8", "the feed must be UTF-8");
    };
    let import = parse_merchant_feed(xml);
    // Bad rows are reported whether or not anything could be imported.
    let errors: Vec<_> = import
        .errors
        .iter()
        .map(|e| json!({"row": e.row, "id": e.id, "reason": e.reason}))
        .collect();
    if import.products.is_empty() {
        return reply::json(
            400,
            &json!({"success": false, "error": "empty_feed", "message": "the feed has no valid products", "errors": errors}),
        );
    }

    let now = Date::now().as_millis() as i64;
    let db = env.d1("DB")?;
    let mut statements = Vec::new();
    for (chunk_no, chunk) in import.products.chunks(CHUNK).enumerate() {
        let rows: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "id": p.id, "title": p.title, "price": p.price, "old_price": p.old_price,
                    "currency": p.currency, "category": p.category, "available": i32::from(p.available),
                    "image": p.image, "url": p.url, "brand": p.brand, "position": chunk_no * CHUNK + i,
                })
            })
            .collect();
        let params = [
            JsValue::from(site.id.as_str()),
            JsValue::from_f64(now as f64),
            JsValue::from(serde_json::Value::Array(rows).to_string()),
        ];
        statements.push(db.prepare(UPSERT_PRODUCTS).bind(&params)?);
    }
    if full {
        let params = [
            JsValue::from(site.id.as_str()),
            JsValue::from_f64(now as f64),
        ];
        statements.push(db.prepare(RETIRE_MISSING).bind(&params)?);
    }
    // One batch is one transaction: a feed is imported whole or not at all.
    db.batch(statements).await?;
    reply::json(
        200,
        &json!({"success": true, "imported": import.products.len(), "errors": errors, "mode": if full {"full"} else {"partial"}}),
    )
}
