//! Placements as data, for the shop's admins (admin key):
//! - `GET /v1/admin/placements`: every placement, stored or built in, with its configuration
//!   and whether it is the default;
//! - `GET /v1/admin/placements/{name}`: one;
//! - `PUT /v1/admin/placements/{name}`: store a configuration (checked by
//!   `engine::recommend_placement::Placement::from_json`; a bad one gets a 400 saying why);
//! - `DELETE /v1/admin/placements/{name}`: back to the built-in default.

use engine::recommend_placement::{valid_name, Placement, DEFAULT_PLACEMENTS};
use serde::Deserialize;
use serde_json::json;
use worker::{wasm_bindgen::JsValue, Date, Env, Method, Request, Response, Result};

use crate::recommendations::placement_from;
use crate::{auth, body, reply};

/// Largest configuration accepted.
const MAX_CONFIG_BYTES: usize = 64 * 1024;

pub(crate) const LIST: &str =
    "SELECT name, config FROM placements WHERE site_id = ?1 ORDER BY name";
pub(crate) const UPSERT: &str = "INSERT INTO placements (site_id, name, config, updated_at_ms) VALUES (?1, ?2, ?3, ?4) \
    ON CONFLICT (site_id, name) DO UPDATE SET config = excluded.config, updated_at_ms = excluded.updated_at_ms";
pub(crate) const DELETE: &str = "DELETE FROM placements WHERE site_id = ?1 AND name = ?2";

#[derive(Deserialize)]
struct Row {
    name: String,
    config: String,
}

/// Handles `/v1/admin/placements[/{name}]`.
pub async fn handle(mut req: Request, env: &Env, path: &str) -> Result<Response> {
    let site = match auth::admin(&req, env)? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let db = env.d1("DB")?;
    let name = path
        .trim_start_matches("/v1/admin/placements")
        .trim_matches('/');
    let site_param = JsValue::from(site.id.as_str());
    let stored: Vec<Row> = db
        .prepare(LIST)
        .bind(std::slice::from_ref(&site_param))?
        .all()
        .await?
        .results()?;
    let describe = |name: &str| {
        let row = stored.iter().find(|r| r.name == name);
        let placement = placement_from(row.map(|r| r.config.clone()), name);
        json!({"name": name, "default": row.is_none(), "config": placement})
    };
    if name.is_empty() {
        if req.method() != Method::Get {
            return reply::error(
                405,
                "method_not_allowed",
                "GET lists the placements; PUT /v1/admin/placements/{name} sets one",
            );
        }
        let mut names: Vec<&str> = DEFAULT_PLACEMENTS.to_vec();
        for r in &stored {
            if !names.contains(&r.name.as_str()) {
                names.push(&r.name);
            }
        }
        let all: Vec<_> = names.iter().map(|n| describe(n)).collect();
        return reply::json(200, &json!({"placements": all}));
    }
    if !valid_name(name) {
        return reply::error(
            400,
            "invalid_placement",
            "a placement name is 1-64 of a-z, 0-9, - and _",
        );
    }
    match req.method() {
        Method::Get => reply::json(200, &describe(name)),
        Method::Put => {
            let text =
                match body::read_document(&mut req, MAX_CONFIG_BYTES, "the placement").await? {
                    Ok(text) => text,
                    Err(refusal) => return Ok(refusal),
                };
            let placement = match Placement::from_json(&text) {
                Ok(p) => p,
                Err(reason) => return reply::error(400, "invalid_placement", reason),
            };
            let config = serde_json::to_string(&placement)
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
            db.prepare(UPSERT)
                .bind(&[
                    site_param,
                    JsValue::from(name),
                    JsValue::from(config.as_str()),
                    JsValue::from_f64(Date::now().as_millis() as f64),
                ])?
                .run()
                .await?;
            reply::json(
                200,
                &json!({"name": name, "default": false, "config": placement}),
            )
        }
        Method::Delete => {
            db.prepare(DELETE)
                .bind(&[site_param, JsValue::from(name)])?
                .run()
                .await?;
            reply::json(
                200,
                &json!({"name": name, "default": true, "config": placement_from(None, name)}),
            )
        }
        _ => reply::error(405, "method_not_allowed", "GET, PUT or DELETE a placement"),
    }
}
