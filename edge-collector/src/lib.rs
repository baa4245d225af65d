//! Orbita's edge collector: the Workers adapter between HTTP, D1 and the pure engine.
//!
//! Routes (everything else is the demo shop, served from static assets by the runtime):
//! - `POST /v1/batch`: Segment-compatible ingestion with a verdict per event.
//! - `POST /v1/track|page|identify|screen|group|alias`: Segment's single-event endpoints.
//! - `GET /v1/recommendations`: a recommendation block for a placement.
//! - `GET /v1/site-config`: the site's widgets and their rules (write key; cacheable, ETag);
//!   `PUT /v1/admin/site-config` replaces it (admin key, validated).
//! - `POST /v1/subscribe`: a subscription form's submission (write key).
//! - `GET /v1/visitor`: segments and cart value from a visitor's profile, for widget targeting.
//! - `POST /api/v2/event`: Yespo's "generate event" body, from backends (server key).
//! - `POST /v1/click-token`: a visitor arrived through an email/SMS/push link (signed token).
//! - `POST /v1/admin/catalogue`: product feed import, Merchant XML, YML, CSV or product JSON
//!   (admin key); `POST /v1/admin/catalogue/retire`: ends an import sent in parts.
//! - `POST /v1/admin/click-tokens`: issue a click token for a contact (admin key).
//! - `GET|DELETE /v1/profiles/{id}`, `GET /v1/profiles?userId=...`: export or erase (admin key).
//! - `GET|PUT|DELETE /v1/admin/placements[/{name}]`: placements as data (admin key).
//! - `POST /v1/admin/neighbours/refresh`: recompute the item-to-item tables (admin key; the
//!   cron trigger does it too, see `scheduled`).
//! - `GET /v1/health`: liveness.
//! - `GET /v1/admin/experiments/report?test=KEY`: the A/B report of a test (admin key).
//! - Web push (`push`): `GET /orbita-sw.js` (the service worker), `GET /v1/push/vapid-public-key`,
//!   `POST|DELETE /v1/push/subscriptions` (browser endpoints), `POST /v1/admin/push/send`.
//!
//! Browser endpoints answer CORS preflights and refuse pages on origins that are neither the
//! collector's own nor listed in `ALLOWED_ORIGINS`.

mod auth;
mod body;
mod catalogue;
mod click_tokens;
mod cors;
mod experiments;
mod group_commit;
mod identity;
mod ids;
mod ingest;
mod limits;
mod neighbours;
mod placements;
mod popularity;
mod profiles;
mod push;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod query_plans;
mod recommendations;
mod reply;
mod site_config;
mod subscribe;
mod visitor;

use protocol::names::types;
use worker::{
    event, Context, Env, Method, Request, Response, Result, ScheduleContext, ScheduledEvent,
};

use cors::Caller;
use recommendations::Part;

/// Rows the `i`-th statement of a D1 batch changed (0 when D1 did not say).
pub(crate) fn rows_changed(results: &[worker::D1Result], i: usize) -> usize {
    results
        .get(i)
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0)
}

/// Segment's single-event endpoints and the event type each implies.
const SINGLE_EVENT_PATHS: [(&str, &str); 6] = [
    ("/v1/track", types::TRACK),
    ("/v1/page", types::PAGE),
    ("/v1/identify", types::IDENTIFY),
    ("/v1/screen", types::SCREEN),
    ("/v1/group", types::GROUP),
    ("/v1/alias", types::ALIAS),
];

/// The worker's entry point: one handler per route, errors turned into typed JSON answers.
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let answer = route(req, &env, &path).await;
    answer.or_else(|e| {
        worker::console_error!("internal error on {path}: {e}");
        reply::error(500, "internal_error", "the collector failed; retry later")
    })
}

/// The cron trigger (`[triggers] crons` in wrangler.toml): folds new events into the
/// interaction counts and refreshes the item-to-item tables.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    if let Err(e) = neighbours::scheduled(&env).await {
        worker::console_error!("neighbour refresh failed: {e}");
    }
    recommendations::forget(Part::Neighbours);
}

async fn route(req: Request, env: &Env, path: &str) -> Result<Response> {
    // Writes that change what recommendations serve drop those parts of this isolate's cache
    // once they are done (events are counted into it by `ingest` instead; the refresh drops
    // the counts so the next block reads what it folded).
    let changes = match (req.method(), path) {
        (Method::Get | Method::Head | Method::Options, _) => None,
        (_, "/v1/admin/catalogue" | "/v1/admin/catalogue/retire") => Some(&[Part::Catalogue][..]),
        (_, p) if p.starts_with("/v1/admin/placements") => Some(&[Part::Placements][..]),
        (_, "/v1/admin/neighbours/refresh") => Some(&[Part::Neighbours, Part::Interactions][..]),
        (_, p) if p.starts_with("/v1/profiles") => Some(&[Part::Interactions][..]),
        _ => None,
    };
    let answer = serve(req, env, path).await;
    for part in changes.into_iter().flatten() {
        recommendations::forget(*part);
    }
    answer
}

async fn serve(req: Request, env: &Env, path: &str) -> Result<Response> {
    let single = SINGLE_EVENT_PATHS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, kind)| *kind);
    let browser_endpoint = single.is_some()
        || matches!(
            path,
            "/v1/batch"
                | "/v1/recommendations"
                | "/v1/click-token"
                | "/v1/site-config"
                | "/v1/subscribe"
                | "/v1/push/vapid-public-key"
                | "/v1/push/subscriptions"
                | "/v1/visitor"
        );
    if !browser_endpoint {
        return match (req.method(), path) {
            (Method::Post, "/v1/admin/catalogue") => catalogue::import(req, env).await,
            (Method::Post, "/v1/admin/catalogue/retire") => catalogue::retire(req, env).await,
            (Method::Post, "/v1/admin/click-tokens") => click_tokens::issue(req, env).await,
            (Method::Put, "/v1/admin/site-config") => site_config::put(req, env).await,
            (_, p) if p == "/v1/admin/placements" || p.starts_with("/v1/admin/placements/") => {
                placements::handle(req, env, p).await
            }
            (Method::Post, "/v1/admin/neighbours/refresh") => {
                neighbours::refresh_now(req, env).await
            }
            (_, p) if p == "/v1/profiles" || p.starts_with("/v1/profiles/") => {
                profiles::handle(req, env, p).await
            }
            (Method::Post, "/v1/admin/push/send") => push::send(req, env).await,
            (Method::Get, "/v1/admin/experiments/report") => experiments::serve(req, env).await,
            (Method::Get, "/orbita-sw.js") => push::service_worker(),
            (Method::Get, "/v1/health") => reply::json(200, &serde_json::json!({"ok": true})),
            (Method::Post, "/api/v2/event") => ingest::yespo(req, env, &Caller::Server).await,
            (
                _,
                "/v1/admin/catalogue"
                | "/v1/admin/catalogue/retire"
                | "/v1/admin/click-tokens"
                | "/v1/admin/site-config"
                | "/v1/admin/push/send"
                | "/v1/admin/neighbours/refresh"
                | "/v1/admin/experiments/report",
            ) => method_not_allowed(),
            _ => reply::error(404, "not_found", "no such endpoint"),
        };
    }
    let caller = Caller::of(&req, env)?;
    if req.method() == Method::Options {
        return caller.preflight();
    }
    if let Caller::Foreign(origin) = &caller {
        return Caller::refuse(origin);
    }
    // Browsers always send Origin on these requests; servers are limited per key instead.
    if req.method() == Method::Post && !matches!(caller, Caller::Server) {
        if let Some(refused) = limits::visitor(&req, env).await? {
            return caller.decorate(refused);
        }
    }
    let answer = match (req.method(), path, single) {
        (Method::Post, "/v1/batch", _) => ingest::batch(req, env, &caller).await?,
        (Method::Post, _, Some(kind)) => ingest::single(req, env, &caller, kind).await?,
        (Method::Post, "/v1/click-token", _) => click_tokens::redeem(req, env).await?,
        (Method::Get, "/v1/recommendations", _) => recommendations::serve(req, env).await?,
        (Method::Get, "/v1/site-config", _) => site_config::get(req, env).await?,
        (Method::Post, "/v1/subscribe", _) => subscribe::handle(req, env).await?,
        (Method::Get, "/v1/push/vapid-public-key", _) => push::vapid_public_key(env)?,
        (Method::Post, "/v1/push/subscriptions", _) => push::subscribe(req, env).await?,
        (Method::Delete, "/v1/push/subscriptions", _) => push::unsubscribe(req, env).await?,
        (Method::Get, "/v1/visitor", _) => visitor::serve(req, env).await?,
        _ => method_not_allowed()?,
    };
    caller.decorate(answer)
}

fn method_not_allowed() -> Result<Response> {
    reply::error(
        405,
        "method_not_allowed",
        "this path does not accept that method",
    )
}
