//! Click tokens: the admin endpoint that issues them (for email, SMS and push links) and the
//! public endpoint the tracker calls when a visitor arrives through such a link.
//!
//! - `POST /v1/admin/click-tokens` `{"contactId": "...", "ttlSeconds": 2592000}` (admin key)
//! - `POST /v1/click-token` `{"token": "...", "anonymousId": "...", "writeKey": "..."}`

use engine::identity::{IdKind, Identifier};
use protocol::click_token::{self, URL_PARAMETER};
use serde::Deserialize;
use serde_json::json;
use worker::{Date, Env, Request, Response, Result};

use crate::{auth, identity, reply};

/// Default lifetime of a token: 30 days, the life of a typical campaign link.
const DEFAULT_TTL_SECONDS: u64 = 30 * 24 * 3600;
/// Longest lifetime an admin may ask for: one year.
const MAX_TTL_SECONDS: u64 = 365 * 24 * 3600;

fn secret(env: &Env) -> Result<Vec<u8>> {
    Ok(env.var("CLICK_TOKEN_SECRET")?.to_string().into_bytes())
}

fn now_s() -> u64 {
    Date::now().as_millis() / 1000
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssueRequest {
    contact_id: String,
    ttl_seconds: Option<u64>,
}

/// Issues a token for a contact (admin key).
pub async fn issue(mut req: Request, env: &Env) -> Result<Response> {
    if let Err(refusal) = auth::admin(&req, env)? {
        return Ok(refusal);
    }
    let Ok(ask) = req.json::<IssueRequest>().await else {
        return reply::error(
            400,
            "malformed_json",
            "send {\"contactId\": \"...\", \"ttlSeconds\": 2592000}",
        );
    };
    let ttl = ask.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if ask.contact_id.trim().is_empty()
        || ask.contact_id.len() > 200
        || !(1..=MAX_TTL_SECONDS).contains(&ttl)
    {
        let message =
            format!("contactId must be 1 to 200 characters and ttlSeconds 1 to {MAX_TTL_SECONDS}");
        return reply::error(400, "invalid_field", message);
    }
    let expires = now_s() + ttl;
    let token = click_token::issue(&secret(env)?, ask.contact_id.trim(), expires);
    reply::json(
        200,
        &json!({"token": token, "contactId": ask.contact_id.trim(), "expiresAt": expires, "parameter": URL_PARAMETER}),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RedeemRequest {
    token: String,
    anonymous_id: String,
    write_key: Option<String>,
}

/// Verifies a token from a link and joins the visitor's device to the contact's profile.
pub async fn redeem(mut req: Request, env: &Env) -> Result<Response> {
    let Ok(ask) = req.json::<RedeemRequest>().await else {
        return reply::error(
            400,
            "malformed_json",
            "send {\"token\": \"...\", \"anonymousId\": \"...\"}",
        );
    };
    let site = match auth::writer(&req, env, ask.write_key.as_deref())? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let contact = match click_token::verify(&secret(env)?, &ask.token, now_s()) {
        Ok(contact) => contact,
        Err(e) => {
            let message = "the link's token is not valid: nothing was merged";
            return reply::error(400, e.code(), message);
        }
    };
    let (Some(device), Some(customer)) = (
        Identifier::new(IdKind::Anonymous, &ask.anonymous_id),
        Identifier::new(IdKind::User, &contact),
    ) else {
        return reply::error(
            400,
            "missing_identity",
            "anonymousId must be a non-empty string",
        );
    };
    let db = env.d1("DB")?;
    let now_ms = Date::now().as_millis() as i64;
    let profiles = identity::update(&db, &site.id, &[vec![device, customer]], now_ms).await?;
    reply::json(
        200,
        &json!({"success": true, "contactId": contact, "profileId": profiles.first()}),
    )
}
