//! Rate limits, with Cloudflare's Rate Limiting binding (simulated locally by wrangler dev):
//! per visitor IP for browser requests, and per site and key for every ingestion request.
//! Over the limit, the answer is `429 rate_limited` with `Retry-After`, which the tracker and
//! Segment's clients honour; nothing in a refused request is stored.

use worker::{Env, Request, Response, Result};

use crate::reply;

/// Seconds a client should wait after a 429: the limiters' window.
const RETRY_AFTER_SECONDS: &str = "60";

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
fn refuse(what: &str) -> Result<Response> {
    let resp = reply::error(
        429,
        "rate_limited",
        format!("too many requests {what}; retry after {RETRY_AFTER_SECONDS} s"),
    )?;
    resp.headers().set("retry-after", RETRY_AFTER_SECONDS)?;
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
        refuse("from this address").map(Some)
    }
}

/// Checks the per-key limit once the request's key is known.
pub async fn key(env: &Env, site: &str, sender: &str) -> Result<Option<Response>> {
    if allowed(env, "KEY_LIMITER", format!("key:{site}:{sender}")).await? {
        Ok(None)
    } else {
        refuse("for this key").map(Some)
    }
}
