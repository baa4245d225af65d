//! Rate limits: per visitor IP for browser requests, with Cloudflare's Rate Limiting binding
//! (simulated locally by wrangler dev), and per site and key for every ingestion request, counted
//! in this instance's memory. Over a limit, the answer is `429 rate_limited` with `Retry-After`,
//! which the tracker and Segment's clients honour; nothing in a refused request is stored.
//!
//! Why the per-key limit is not the binding: it guards the collector's own capacity, so what
//! matters is the load on this instance, and it is checked on every ingestion request. Locally the
//! binding is a Durable Object that answers one call at a time: measured on `workerd` directly
//! (single events, 32 connections), it made ingestion 5x slower (319 vs 1,793 requests/s). The
//! per-IP limit stays on the binding: it must hold across instances, and browsers send a few
//! requests a minute each.

use std::cell::RefCell;
use std::collections::HashMap;

use protocol::limits::{Window, KEY_REQUESTS_PER_MINUTE};
use worker::{Date, Env, Request, Response, Result};

use crate::reply;

/// Seconds a client should wait after a 429 from the per-IP limiter: its window.
const RETRY_AFTER_SECONDS: u32 = 60;
/// The per-key window.
const KEY_PERIOD_MS: i64 = 60_000;

thread_local! {
    /// Per-key windows of this instance (a handful of keys: one per site and sender).
    static KEY_WINDOWS: RefCell<HashMap<String, Window>> = RefCell::new(HashMap::new());
}

async fn allowed(env: &Env, binding: &str, key: String) -> Result<bool> {
    match env.rate_limiter(binding) {
        Ok(limiter) => Ok(limiter.limit(key).await?.success),
        // A deployment without the binding is not limited (and says so in its logs).
        Err(_) => {
            worker::console_warn!("rate limiter {binding} is not configured");
            Ok(true)
        }
    }
}

/// The 429 answer.
fn refuse(what: &str, retry_after_seconds: u32) -> Result<Response> {
    let resp = reply::error(
        429,
        "rate_limited",
        format!("too many requests {what}; retry after {retry_after_seconds} s"),
    )?;
    resp.headers()
        .set("retry-after", &retry_after_seconds.to_string())?;
    Ok(resp)
}

/// Checks the per-IP limit for a request from a browser page.
pub async fn visitor(req: &Request, env: &Env) -> Result<Option<Response>> {
    let ip = req
        .headers()
        .get("cf-connecting-ip")?
        .unwrap_or_else(|| "unknown".into());
    if allowed(env, "VISITOR_LIMITER", format!("ip:{ip}")).await? {
        Ok(None)
    } else {
        refuse("from this address", RETRY_AFTER_SECONDS).map(Some)
    }
}

/// Checks the per-key limit once the request's key is known (`KEY_LIMIT_PER_MINUTE` requests
/// per minute per instance; default `KEY_REQUESTS_PER_MINUTE`).
pub fn key(env: &Env, site: &str, sender: &str) -> Result<Option<Response>> {
    let limit = env
        .var("KEY_LIMIT_PER_MINUTE")
        .ok()
        .and_then(|v| v.to_string().parse().ok())
        .unwrap_or(KEY_REQUESTS_PER_MINUTE);
    let now = Date::now().as_millis() as i64;
    let verdict = KEY_WINDOWS.with(|w| {
        w.borrow_mut()
            .entry(format!("{site}:{sender}"))
            .or_default()
            .admit(now, limit, KEY_PERIOD_MS)
    });
    match verdict {
        Ok(()) => Ok(None),
        Err(wait_ms) => {
            let seconds = u32::try_from((wait_ms + 999) / 1000).unwrap_or(RETRY_AFTER_SECONDS);
            refuse("for this key", seconds.max(1)).map(Some)
        }
    }
}
