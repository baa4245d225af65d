//! The site configuration (widgets, display rules, texts, A/B variants, push):
//! `PUT /v1/admin/site-config` stores it after validation (admin key), `GET /v1/site-config`
//! serves it to browsers (write key), cacheable for a minute and revalidated by ETag.

use protocol::site_config::SiteConfig;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use worker::{wasm_bindgen::JsValue, Date, Env, Request, Response, Result};

use crate::{auth, body, reply};

/// Largest configuration document accepted.
const MAX_CONFIG_BYTES: usize = 256 * 1024;
/// How long browsers may use a served configuration without asking again.
const MAX_AGE_SECONDS: u32 = 60;

pub(crate) const LOAD: &str = "SELECT config FROM site_configs WHERE site_id = ?1";
pub(crate) const SAVE: &str =
    "INSERT INTO site_configs (site_id, config, etag, updated_at_ms) VALUES (?1, ?2, ?3, ?4) \
  ON CONFLICT (site_id) DO UPDATE SET config = excluded.config, etag = excluded.etag, \
  updated_at_ms = excluded.updated_at_ms";

#[derive(Deserialize)]
struct Row {
    config: String,
}

/// Lowercase hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The site's stored configuration (validated when stored), or the default (no widgets).
pub async fn load(env: &Env, site: &str) -> Result<SiteConfig> {
    let row: Option<Row> = env
        .d1("DB")?
        .prepare(LOAD)
        .bind(&[JsValue::from(site)])?
        .first(None)
        .await?;
    Ok(row
        .and_then(|r| SiteConfig::from_json(&r.config).ok())
        .unwrap_or_default())
}

/// Handles `PUT /v1/admin/site-config`.
pub async fn put(mut req: Request, env: &Env) -> Result<Response> {
    let site = match auth::admin(&req, env)? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let text = match body::read_document(&mut req, MAX_CONFIG_BYTES, "the configuration").await? {
        Ok(text) => text,
        Err(refusal) => return Ok(refusal),
    };
    let config = match SiteConfig::from_json(&text) {
        Ok(config) => config,
        Err(e) => {
            let at = if e.path.is_empty() {
                "the document"
            } else {
                &e.path
            };
            return reply::json(
                400,
                &serde_json::json!({
                    "success": false,
                    "error": "invalid_site_config",
                    "path": e.path,
                    "message": format!("{at}: {}", e.reason),
                }),
            );
        }
    };
    let stored =
        serde_json::to_string(&config).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let etag = sha256_hex(&stored)[..20].to_string();
    env.d1("DB")?
        .prepare(SAVE)
        .bind(&[
            site.id.as_str().into(),
            stored.as_str().into(),
            etag.as_str().into(),
            JsValue::from_f64(Date::now().as_millis() as f64),
        ])?
        .run()
        .await?;
    reply::json(
        200,
        &serde_json::json!({"success": true, "widgets": config.widgets.len(), "etag": etag}),
    )
}

/// Handles `GET /v1/site-config?writeKey=...` (the key may also come as Basic auth).
pub async fn get(req: Request, env: &Env) -> Result<Response> {
    let url = req.url()?;
    let key = url
        .query_pairs()
        .find(|(k, _)| k == protocol::site_config::subscribe::WRITE_KEY)
        .map(|(_, v)| v.into_owned());
    let site = match auth::writer(&req, env, key.as_deref())? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let mut config = load(env, &site.id).await?;
    if config.push.enabled {
        config.push.vapid_public_key = env
            .var("VAPID_PUBLIC_KEY")
            .ok()
            .map(|v| v.to_string())
            .filter(|k| !k.is_empty());
    }
    let text =
        serde_json::to_string(&config).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let etag = format!("\"{}\"", &sha256_hex(&text)[..20]);
    let cached = req.headers().get("if-none-match")?.is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().trim_start_matches("W/") == etag)
    });
    let resp = if cached {
        Response::empty()?.with_status(304)
    } else {
        Response::ok(text)?
    };
    let headers = resp.headers();
    headers.set("content-type", "application/json")?;
    headers.set("etag", &etag)?;
    headers.set(
        "cache-control",
        &format!("public, max-age={MAX_AGE_SECONDS}"),
    )?;
    Ok(resp)
}
