//! Web push: the service worker, the VAPID public key, browsers' subscriptions and sending.
//!
//! - `GET /orbita-sw.js?k=WRITE_KEY`: the service worker (scope `/`): shows notifications and
//!   reports clicks as `Push Clicked` to `/v1/track`.
//! - `GET /v1/push/vapid-public-key`: `{"publicKey": "<base64url>"}` (browser endpoint).
//! - `POST /v1/push/subscriptions` `{"subscription": PushSubscription.toJSON(), "anonymousId",
//!   "userId"?, "writeKey"}`: stores it against the visitor's profile. The service worker sends
//!   `{"subscription", "previousEndpoint", "writeKey"}` when the browser replaced a subscription
//!   (`pushsubscriptionchange`): the new one takes over the old one's visitor and the old row is
//!   deleted (an endpoint is an unguessable capability URL: knowing it is proof enough of having
//!   held it). `DELETE` with
//!   `{"endpoint", "writeKey"}` removes it (browser endpoints, write key).
//! - `POST /v1/admin/push/send` `{"endpoint" | "profileId" | "userId", "title", "body", "icon"?,
//!   "url"?, "ttl"?, "urgency"?}` (admin key): encrypts (RFC 8291) and signs (VAPID, RFC 8292)
//!   one message per matching subscription and POSTs it to the push service; subscriptions the
//!   service answers 404/410 for are deleted.

use engine::identity::{IdKind, Identifier};
use engine::web_push;
use protocol::push::{self as wire, base64url_decode, Subscription};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::{Date, Env, Fetch, Headers, Method, Request, RequestInit, Response, Result};

use crate::{auth, identity, ids, reply};

pub(crate) const SERVICE_WORKER: &str = include_str!("push_sw.js");

pub(crate) const UPSERT: &str = "INSERT INTO push_subscriptions (site_id, endpoint, p256dh, auth, profile_id, \
    anonymous_id, user_id, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) \
    ON CONFLICT (site_id, endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, \
    profile_id = excluded.profile_id, anonymous_id = excluded.anonymous_id, \
    user_id = COALESCE(excluded.user_id, push_subscriptions.user_id), updated_at_ms = excluded.updated_at_ms";
pub(crate) const DELETE: &str =
    "DELETE FROM push_subscriptions WHERE site_id = ?1 AND endpoint = ?2";
pub(crate) const PREVIOUS: &str = "SELECT anonymous_id, user_id FROM push_subscriptions \
    WHERE site_id = ?1 AND endpoint = ?2";
pub(crate) const COLUMNS: &str =
    "SELECT endpoint, p256dh, auth, profile_id, anonymous_id FROM push_subscriptions";
/// A profile's subscriptions, including those stored against profiles merged into it, through
/// the profile index (without it SQLite reads every subscription of the site: see
/// ARCHITECTURE.md on `INDEXED BY`).
pub(crate) const BY_PROFILE: &str = concat!(
    "INDEXED BY push_subscriptions_by_profile WHERE site_id = ?1 AND profile_id IN ",
    crate::profiles::profile_and_merged!()
);
pub(crate) const USER_PROFILE: &str =
    "SELECT profile_id FROM identities WHERE site_id = ?1 AND kind = 'user' AND value = ?2";
pub(crate) const RECORD_MESSAGE: &str =
    "INSERT INTO push_messages (site_id, message_id, endpoint, profile_id, \
    title, sent_at_ms, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Most subscriptions one send request reaches (one profile rarely has more than a few).
const MAX_TARGETS: usize = 20;
/// Default time a push service keeps an undelivered message: 4 weeks.
const DEFAULT_TTL_S: u32 = 28 * 24 * 3600;

/// The service worker, with the wire names filled in from `protocol`.
pub fn service_worker() -> Result<Response> {
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let script = [
        ("__TITLE__", wire::TITLE),
        ("__BODY__", wire::BODY),
        ("__ICON__", wire::ICON),
        ("__URL__", wire::URL),
        ("__MESSAGE_ID__", wire::MESSAGE_ID),
        ("__ANONYMOUS_ID__", wire::ANONYMOUS_ID),
        ("__PUSH_CLICKED__", wire::PUSH_CLICKED),
        ("__PUBLIC_KEY__", wire::PUBLIC_KEY),
    ]
    .iter()
    .fold(SERVICE_WORKER.to_string(), |s, (k, v)| {
        s.replace(k, &quoted(v))
    });
    let resp = Response::ok(script)?;
    let headers = resp.headers();
    headers.set("content-type", "text/javascript; charset=utf-8")?;
    headers.set("service-worker-allowed", "/")?;
    // Browsers check for an updated worker at most daily anyway; keep deploys visible at once.
    headers.set("cache-control", "no-cache")?;
    Ok(resp)
}

/// `GET /v1/push/vapid-public-key`.
pub fn vapid_public_key(env: &Env) -> Result<Response> {
    match env.var("VAPID_PUBLIC_KEY").map(|v| v.to_string()) {
        Ok(key) if !key.is_empty() => reply::json(200, &json!({ wire::PUBLIC_KEY: key })),
        _ => reply::error(
            503,
            "push_not_configured",
            "set VAPID_PUBLIC_KEY and the secret VAPID_PRIVATE_KEY",
        ),
    }
}

/// Endpoint origins allowed over plain http (`PUSH_HTTP_ORIGINS`, tests only).
fn http_allowed(env: &Env, endpoint: &str) -> bool {
    let allowed = env
        .var("PUSH_HTTP_ORIGINS")
        .map(|v| v.to_string())
        .unwrap_or_default();
    allowed.split(',').map(str::trim).any(|origin| {
        !origin.is_empty()
            && origin.starts_with("http://")
            && endpoint
                .strip_prefix(origin)
                .is_some_and(|rest| rest.starts_with(['/', ':']))
    })
}

/// Validates a subscription; an http endpoint passes only where `PUSH_HTTP_ORIGINS` allows it.
fn validate(
    env: &Env,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
) -> Result<Subscription, wire::SubscriptionError> {
    match endpoint.strip_prefix("http://") {
        Some(rest) if http_allowed(env, endpoint) => {
            let mut s = Subscription::parse(&["https://", rest].concat(), p256dh, auth)?;
            s.endpoint = endpoint.to_string();
            Ok(s)
        }
        _ => Subscription::parse(endpoint, p256dh, auth),
    }
}

#[derive(Deserialize)]
struct Keys {
    p256dh: Option<String>,
    auth: Option<String>,
}

#[derive(Deserialize)]
struct BrowserSubscription {
    endpoint: Option<String>,
    keys: Option<Keys>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribeRequest {
    subscription: Option<BrowserSubscription>,
    /// The subscription this one replaces (the service worker's `pushsubscriptionchange`): the
    /// new one takes over its visitor and the old row is deleted.
    previous_endpoint: Option<String>,
    anonymous_id: Option<String>,
    user_id: Option<String>,
    write_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UnsubscribeRequest {
    endpoint: Option<String>,
    write_key: Option<String>,
}

fn malformed(shape: &str) -> Result<Response> {
    reply::error(400, "malformed_json", ["send ", shape].concat())
}

/// `POST /v1/push/subscriptions`.
pub async fn subscribe(mut req: Request, env: &Env) -> Result<Response> {
    const SHAPE: &str = "{\"subscription\": PushSubscription.toJSON(), \"anonymousId\": \"...\"}";
    let Ok(ask) = req.json::<SubscribeRequest>().await else {
        return malformed(SHAPE);
    };
    let site = match auth::writer(&req, env, ask.write_key.as_deref())? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let Some(sub) = ask.subscription else {
        return malformed(SHAPE);
    };
    let keys = sub.keys.unwrap_or(Keys {
        p256dh: None,
        auth: None,
    });
    let (endpoint, p256dh, secret) = (
        sub.endpoint.unwrap_or_default(),
        keys.p256dh.unwrap_or_default(),
        keys.auth.unwrap_or_default(),
    );
    let subscription = match validate(env, &endpoint, &p256dh, &secret) {
        Ok(s) => s,
        Err(e) => return reply::error(400, e.code(), e.message()),
    };
    let db = env.d1("DB")?;
    let previous = ask
        .previous_endpoint
        .filter(|e| !e.is_empty() && *e != endpoint);
    let (mut anonymous_id, mut user_id) = (ask.anonymous_id.unwrap_or_default(), ask.user_id);
    if let Some(old) = previous.as_deref() {
        #[derive(Deserialize)]
        struct Previous {
            anonymous_id: String,
            user_id: Option<String>,
        }
        let found = db
            .prepare(PREVIOUS)
            .bind(&[JsValue::from(site.id.as_str()), JsValue::from(old)])?
            .first::<Previous>(None)
            .await?;
        match found {
            Some(row) if anonymous_id.is_empty() => {
                anonymous_id = row.anonymous_id;
                user_id = user_id.or(row.user_id);
            }
            Some(_) => {}
            None if anonymous_id.is_empty() => {
                return reply::error(
                    404,
                    "unknown_subscription",
                    "previousEndpoint is not a stored subscription of this site",
                )
            }
            None => {}
        }
    }
    let Some(device) = Identifier::new(IdKind::Anonymous, &anonymous_id) else {
        return reply::error(
            400,
            "missing_identity",
            "anonymousId must be a non-empty string (or previousEndpoint a stored subscription)",
        );
    };
    let user_id = user_id.filter(|u| !u.trim().is_empty());
    let mut sighting = vec![device];
    if let Some(user) = user_id.as_deref() {
        let Some(customer) = Identifier::new(IdKind::User, user) else {
            return reply::error(400, "invalid_field", "userId is not a valid customer ID");
        };
        // As for events: a customer ID sent with the device's ID joins the two in the graph.
        sighting.push(customer);
    }
    let now_ms = Date::now().as_millis() as f64;
    let profiles = identity::update(&db, &site.id, &[sighting], now_ms as i64).await?;
    let Some(profile) = profiles.first() else {
        return reply::error(500, "internal_error", "no profile for the visitor");
    };
    let params = [
        JsValue::from(site.id.as_str()),
        JsValue::from(subscription.endpoint.as_str()),
        JsValue::from(p256dh.trim_end_matches('=')),
        JsValue::from(secret.trim_end_matches('=')),
        JsValue::from(profile.as_str()),
        JsValue::from(anonymous_id.as_str()),
        user_id.as_deref().map_or(JsValue::NULL, JsValue::from),
        JsValue::from_f64(now_ms),
    ];
    let upsert = db.prepare(UPSERT).bind(&params)?;
    match previous.as_deref() {
        // One transaction: the visitor never has neither subscription, nor both.
        Some(old) => {
            let delete = db
                .prepare(DELETE)
                .bind(&[JsValue::from(site.id.as_str()), JsValue::from(old)])?;
            db.batch(vec![upsert, delete]).await?;
        }
        None => {
            upsert.run().await?;
        }
    }
    reply::json(201, &json!({"success": true, "profileId": profile}))
}

/// `DELETE /v1/push/subscriptions`.
pub async fn unsubscribe(mut req: Request, env: &Env) -> Result<Response> {
    let Ok(ask) = req.json::<UnsubscribeRequest>().await else {
        return malformed("{\"endpoint\": \"...\"}");
    };
    let site = match auth::writer(&req, env, ask.write_key.as_deref())? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let endpoint = ask.endpoint.unwrap_or_default();
    if endpoint.is_empty() || endpoint.len() > wire::MAX_ENDPOINT_LEN {
        return reply::error(
            400,
            "invalid_field",
            "endpoint must be the subscription's endpoint",
        );
    }
    let db = env.d1("DB")?;
    let result = db
        .prepare(DELETE)
        .bind(&[
            JsValue::from(site.id.as_str()),
            JsValue::from(endpoint.as_str()),
        ])?
        .run()
        .await?;
    let removed = result.meta()?.and_then(|m| m.changes).unwrap_or(0);
    reply::json(200, &json!({"success": true, "removed": removed}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendRequest {
    endpoint: Option<String>,
    profile_id: Option<String>,
    user_id: Option<String>,
    title: Option<String>,
    body: Option<String>,
    icon: Option<String>,
    url: Option<String>,
    ttl: Option<u32>,
    urgency: Option<String>,
}

#[derive(Deserialize)]
struct Row {
    endpoint: String,
    p256dh: String,
    auth: String,
    profile_id: String,
    anonymous_id: String,
}

/// `POST /v1/admin/push/send`.
pub async fn send(mut req: Request, env: &Env) -> Result<Response> {
    let site = match auth::admin(&req, env)? {
        Ok(site) => site,
        Err(refusal) => return Ok(refusal),
    };
    let Ok(ask) = req.json::<SendRequest>().await else {
        return malformed("{\"profileId\" | \"userId\" | \"endpoint\": \"...\", \"title\": \"...\", \"body\": \"...\", \"url\": \"https://...\"}");
    };
    let title = ask.title.unwrap_or_default();
    if title.trim().is_empty() || title.len() > 200 {
        return reply::error(400, "invalid_field", "title must be 1 to 200 characters");
    }
    let url = ask.url.unwrap_or_default();
    let url_ok = url.is_empty()
        || url.starts_with("https://")
        || url.starts_with("http://")
        || url.starts_with('/');
    if !url_ok {
        return reply::error(400, "invalid_field", "url must be an http(s) URL or a path");
    }
    let urgency = ask.urgency.unwrap_or_else(|| "normal".into());
    if !matches!(urgency.as_str(), "very-low" | "low" | "normal" | "high") {
        return reply::error(
            400,
            "invalid_field",
            "urgency is very-low, low, normal or high",
        );
    }
    let ttl = ask.ttl.unwrap_or(DEFAULT_TTL_S).min(DEFAULT_TTL_S);
    // The payload must fit one 4096-byte record with the longest IDs it will carry.
    let longest = json!({
        wire::TITLE: title, wire::BODY: ask.body, wire::ICON: ask.icon, wire::URL: url,
        wire::MESSAGE_ID: "push-000000000000000000000000",
        wire::ANONYMOUS_ID: "x".repeat(protocol::limits::MAX_ID_BYTES),
    });
    if longest.to_string().len() > wire::MAX_PAYLOAD_BYTES {
        let message = "title, body, icon and url together must fit a 4 KB push message";
        return reply::error(413, "payload_too_large", message);
    }
    let Ok(private_key) = env
        .secret("VAPID_PRIVATE_KEY")
        .map(|s| s.to_string())
        .map(|k| base64url_decode(&k).unwrap_or_default())
    else {
        return reply::error(
            503,
            "push_not_configured",
            "set the secret VAPID_PRIVATE_KEY",
        );
    };
    let contact = env
        .var("VAPID_CONTACT")
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "mailto:push@localhost".into());

    let db = env.d1("DB")?;
    let site_id = JsValue::from(site.id.as_str());
    let rows: Vec<Row> = if let Some(endpoint) = ask.endpoint.filter(|e| !e.is_empty()) {
        let sql = [COLUMNS, " WHERE site_id = ?1 AND endpoint = ?2"].concat();
        db.prepare(sql)
            .bind(&[site_id.clone(), endpoint.into()])?
            .all()
            .await?
            .results()?
    } else {
        let profile = match (ask.profile_id.filter(|p| !p.is_empty()), ask.user_id) {
            (Some(profile), _) => Some(profile),
            (None, Some(user)) => {
                db.prepare(USER_PROFILE)
                    .bind(&[site_id.clone(), user.into()])?
                    .first::<String>(Some("profile_id"))
                    .await?
            }
            (None, None) => {
                return reply::error(
                    400,
                    "missing_target",
                    "name an endpoint, profileId or userId",
                )
            }
        };
        match profile {
            Some(profile) => {
                let sql = [COLUMNS, " ", BY_PROFILE, " LIMIT 20"].concat();
                db.prepare(sql)
                    .bind(&[site_id.clone(), profile.into()])?
                    .all()
                    .await?
                    .results()?
            }
            None => Vec::new(),
        }
    };

    let now_ms = Date::now().as_millis();
    let mut results = Vec::new();
    let mut records = Vec::new();
    for row in rows.into_iter().take(MAX_TARGETS) {
        let message_id = ids::random("push-");
        let payload = json!({
            wire::TITLE: title,
            wire::BODY: ask.body.clone().unwrap_or_default(),
            wire::ICON: ask.icon.clone(),
            wire::URL: url,
            wire::MESSAGE_ID: message_id,
            wire::ANONYMOUS_ID: row.anonymous_id,
        })
        .to_string();
        let outcome = deliver(
            env,
            &row,
            &payload,
            &private_key,
            &contact,
            ttl,
            &urgency,
            now_ms,
        )
        .await;
        let (status, outcome) = match outcome {
            Ok(status @ 200..=299) => (status, "sent"),
            Ok(status @ (404 | 410)) => {
                db.prepare(DELETE)
                    .bind(&[site_id.clone(), row.endpoint.as_str().into()])?
                    .run()
                    .await?;
                (status, "gone")
            }
            Ok(status) => (status, "refused"),
            Err(reason) => {
                worker::console_warn!("push to {} failed: {reason}", row.endpoint);
                (0, "failed")
            }
        };
        records.push(db.prepare(RECORD_MESSAGE).bind(&[
            site_id.clone(),
            message_id.as_str().into(),
            row.endpoint.as_str().into(),
            row.profile_id.as_str().into(),
            title.as_str().into(),
            JsValue::from_f64(now_ms as f64),
            JsValue::from(status),
        ])?);
        results.push(json!({
            "endpoint": row.endpoint,
            "profileId": row.profile_id,
            "messageId": message_id,
            "status": status,
            "outcome": outcome,
        }));
    }
    if !records.is_empty() {
        db.batch(records).await?;
    }
    let sent = results.iter().filter(|r| r["outcome"] == "sent").count();
    reply::json(
        200,
        &json!({"success": true, "sent": sent, "messages": Value::from(results)}),
    )
}

/// Encrypts the payload for one subscription and POSTs it; the push service's status.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    env: &Env,
    row: &Row,
    payload: &str,
    private_key: &[u8],
    contact: &str,
    ttl: u32,
    urgency: &str,
    now_ms: u64,
) -> std::result::Result<u16, String> {
    let subscription =
        validate(env, &row.endpoint, &row.p256dh, &row.auth).map_err(|e| e.code().to_string())?;
    let mut salt = [0u8; 16];
    let mut ephemeral = [0u8; 32];
    ids::fill_random(&mut salt).ok_or("no random source")?;
    ids::fill_random(&mut ephemeral).ok_or("no random source")?;
    let body = web_push::encrypt(payload.as_bytes(), &subscription, salt, &ephemeral)
        .map_err(|e| e.code().to_string())?;
    let authorization =
        web_push::vapid_authorization(&row.endpoint, contact, private_key, now_ms / 1000)
            .map_err(|e| e.code().to_string())?;
    let headers = Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
    set("content-type", "application/octet-stream")?;
    set("content-encoding", "aes128gcm")?;
    set("ttl", &ttl.to_string())?;
    set("urgency", urgency)?;
    set("authorization", &authorization)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(Uint8Array::from(body.as_slice()).into()));
    let request = Request::new_with_init(&row.endpoint, &init).map_err(|e| e.to_string())?;
    let response = Fetch::Request(request)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.status_code())
}
