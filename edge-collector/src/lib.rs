//! Orbita's edge collector: the Workers adapter between HTTP, D1 and the pure engine.
//!
//! Routes (everything else is the demo shop, served from static assets by the runtime):
//! - `POST /v1/batch`: Segment-compatible ingestion with a verdict per event.
//! - `GET /v1/recommendations`: a recommendation block for a placement.
//! - `POST /v1/admin/catalogue`: product feed import (admin key).
//! - `GET /v1/health`: liveness.

mod auth;
mod catalogue;
mod ingest;
mod recommendations;
mod reply;

use worker::{event, Context, Env, Method, Request, Response, Result};

/// The worker's entry point: one handler per route, errors turned into typed JSON answers.
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let answer = match (req.method(), path.as_str()) {
        (Method::Post, "/v1/batch") => ingest::batch(req, &env).await,
        (Method::Get, "/v1/recommendations") => recommendations::serve(req, &env).await,
        (Method::Post, "/v1/admin/catalogue") => catalogue::import(req, &env).await,
        (Method::Get, "/v1/health") => reply::json(200, &serde_json::json!({"ok": true})),
        (_, "/v1/batch" | "/v1/recommendations" | "/v1/admin/catalogue") => reply::error(
            405,
            "method_not_allowed",
            "this path does not accept that method",
        ),
        _ => reply::error(404, "not_found", "no such endpoint"),
    };
    answer.or_else(|e| {
        worker::console_error!("internal error on {path}: {e}");
        reply::error(500, "internal_error", "the collector failed; retry later")
    })
}
