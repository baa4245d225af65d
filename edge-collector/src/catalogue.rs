//! `POST /v1/admin/catalogue`: import the shop's product feed into D1, and
//! `POST /v1/admin/catalogue/retire`: end an import sent in parts.
//!
//! The body is a feed in Google Merchant XML, YML or CSV (recognised by its first bytes, or named
//! by `?format=merchant|yml|csv`), or `{"products": [...]}` in Orbita's product JSON (what
//! `cargo xtask feed` sends for feeds too large for one request). `?mode=full` (the default)
//! marks every product the import did not list unavailable; `?mode=partial` only upserts.
//! `?run=MS` stamps the products with the import's start time instead of now, so the parts of one
//! import share it; `retire?run=MS` then retires what no part listed.

use engine::catalogue::Product;
use engine::feed::{parse_feed, FeedFormat, FeedImport};
use serde::Deserialize;
use serde_json::json;
use worker::{
    wasm_bindgen::JsValue, D1Database, D1PreparedStatement, Date, Env, Request, Response, Result,
};

use crate::{auth, reply};

/// Largest feed accepted in one request. Bigger catalogues are sent in parts with `?mode=partial`.
const MAX_FEED_BYTES: usize = 20 * 1024 * 1024;
/// Products written per statement (bounded so one statement stays small).
const CHUNK: usize = 500;

pub(crate) const UPSERT_PRODUCTS: &str = "INSERT INTO products \
    (site_id, id, title, price, old_price, currency, category, available, image, url, brand, \
     feed_position, updated_at_ms, attributes) \
  SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.title'), \
     json_extract(value, '$.price'), json_extract(value, '$.old_price'), \
     json_extract(value, '$.currency'), json_extract(value, '$.category'), \
     json_extract(value, '$.available'), json_extract(value, '$.image'), \
     json_extract(value, '$.url'), json_extract(value, '$.brand'), \
     json_extract(value, '$.position'), ?2, json_extract(value, '$.attributes') \
  FROM json_each(?3) WHERE true \
  ON CONFLICT (site_id, id) DO UPDATE SET title = excluded.title, price = excluded.price, \
     old_price = excluded.old_price, currency = excluded.currency, category = excluded.category, \
     available = excluded.available, image = excluded.image, url = excluded.url, \
     brand = excluded.brand, feed_position = excluded.feed_position, \
     updated_at_ms = excluded.updated_at_ms, attributes = excluded.attributes";

/// A full feed lists the whole catalogue: what it no longer lists cannot be bought.
pub(crate) const RETIRE_MISSING: &str = "UPDATE products SET available = 0, updated_at_ms = ?2 \
     WHERE site_id = ?1 AND updated_at_ms < ?2 AND available = 1";

/// Orbita's product JSON: what `cargo xtask feed` sends, one part of a large feed at a time.
#[derive(Deserialize)]
struct ProductsPart {
    products: Vec<Product>,
    /// Position of the part's first product in the whole feed.
    #[serde(default)]
    offset: usize,
}

/// The query of an import request.
struct Options {
    full: bool,
    format: Option<String>,
    /// The import's timestamp (ms), when the request names one (`run`).
    run: Option<i64>,
}

impl Options {
    fn of(req: &Request) -> Result<Options> {
        let mut options = Options {
            full: true,
            format: None,
            run: None,
        };
        for (key, value) in req.url()?.query_pairs() {
            match key.as_ref() {
                "mode" => options.full = value != "partial",
                "format" => options.format = Some(value.into_owned()),
                "run" => options.run = value.parse().ok().or(options.run),
                _ => {}
            }
        }
        Ok(options)
    }
}

/// Handles the feed import.
pub async fn import(mut req: Request, env: &Env) -> Result<Response> {
    let site = match auth::admin(&req, env)? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let options = Options::of(&req)?;
    let run = options
        .run
        .unwrap_or_else(|| Date::now().as_millis() as i64);
    let json_body = req
        .headers()
        .get("content-type")?
        .is_some_and(|t| t.starts_with("application/json"));
    let body = req.bytes().await?;
    if body.len() > MAX_FEED_BYTES {
        return reply::error(
            413,
            "feed_too_large",
            format!("send at most {MAX_FEED_BYTES} bytes per request, or use `cargo xtask feed`, which sends large feeds in parts"),
        );
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return reply::error(400, "invalid_utf8", "the feed must be UTF-8");
    };
    let (import, format, offset) = if json_body || options.format.as_deref() == Some("json") {
        match serde_json::from_str::<ProductsPart>(text) {
            Ok(part) => (
                FeedImport {
                    products: part.products,
                    errors: Vec::new(),
                },
                "json",
                part.offset,
            ),
            Err(e) => {
                return reply::error(
                    400,
                    "invalid_products",
                    format!("expected {{\"products\": [...]}}: {e}"),
                )
            }
        }
    } else {
        let format = match options.format.as_deref() {
            None => FeedFormat::detect(text),
            Some(name) => match FeedFormat::from_name(name) {
                Some(format) => format,
                None => {
                    return reply::error(
                        400,
                        "unknown_format",
                        format!("format {name:?} is not merchant, yml, csv or json"),
                    )
                }
            },
        };
        (parse_feed(text, format), format.name(), 0)
    };
    // Bad rows are reported whether or not anything could be imported.
    let errors: Vec<_> = import
        .errors
        .iter()
        .map(|e| json!({"row": e.row, "id": e.id, "reason": e.reason}))
        .collect();
    if import.products.is_empty() {
        return reply::json(
            400,
            &json!({"success": false, "error": "empty_feed", "message": "the feed has no valid products", "format": format, "errors": errors}),
        );
    }

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
                    "image": p.image, "url": p.url, "brand": p.brand,
                    "position": offset + chunk_no * CHUNK + i,
                    "attributes": (!p.attributes.is_empty()).then_some(&p.attributes),
                })
            })
            .collect();
        let params = [
            JsValue::from(site.id.as_str()),
            JsValue::from_f64(run as f64),
            JsValue::from(serde_json::Value::Array(rows).to_string()),
        ];
        statements.push(db.prepare(UPSERT_PRODUCTS).bind(&params)?);
    }
    if options.full {
        statements.push(retire_statement(&db, &site.id, run)?);
    }
    // One batch is one transaction: a feed is imported whole or not at all.
    db.batch(statements).await?;
    reply::json(
        200,
        &json!({
            "success": true, "imported": import.products.len(), "errors": errors, "format": format,
            "mode": if options.full {"full"} else {"partial"}, "run": run,
        }),
    )
}

fn retire_statement(db: &D1Database, site: &str, run: i64) -> Result<D1PreparedStatement> {
    db.prepare(RETIRE_MISSING)
        .bind(&[JsValue::from(site), JsValue::from_f64(run as f64)])
}

/// Handles `POST /v1/admin/catalogue/retire?run=MS`: the last step of an import sent in parts
/// (`mode=partial&run=MS`), marking unavailable every product no part listed.
pub async fn retire(req: Request, env: &Env) -> Result<Response> {
    let site = match auth::admin(&req, env)? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let Some(run) = Options::of(&req)?.run else {
        return reply::error(
            400,
            "missing_run",
            "retire needs ?run=MS, the run of the import's parts",
        );
    };
    let db = env.d1("DB")?;
    let result = retire_statement(&db, &site.id, run)?.run().await?;
    let retired = result.meta()?.and_then(|m| m.changes).unwrap_or(0);
    reply::json(
        200,
        &json!({"success": true, "retired": retired, "run": run}),
    )
}
